import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Finds PEM private keys (`-----BEGIN PRIVATE KEY-----`, `… RSA/EC/ENCRYPTED/OPENSSH PRIVATE
/// KEY-----`) so that no file holding one is ever served or listed, wherever it lies under the
/// root and whatever it is called: a `certs/` made by another tool, a key copied next to a page.
///
/// Files small enough to be read whole (the file cache's size) are looked through when they are
/// read, at no extra I/O. Larger ones up to `alwaysScannedBytes` (an `.env`, a JSON dump, a
/// `server.key.bak`, a page) are read through once per version (`Scans` keeps the verdict);
/// beyond that only when their name is one keys are kept under, since reading every video to
/// find a key no one would pad into it costs more than it saves.
enum PrivateKeyPEM {
    /// Files up to this size are looked through whatever their name (once per version).
    static let alwaysScannedBytes = 16 << 20

    private static let marker = Array("PRIVATE KEY-----".utf8)
    private static let begin = Array("-----BEGIN ".utf8)
    /// The longest `-----BEGIN … PRIVATE KEY-----` line looked for.
    private static let longestLine = 64

    /// Names whose files are looked through whatever their size: a key or certificate
    /// extension, also under a backup suffix (`server.key.bak`, `tls.pem~`), and SSH key files
    /// (`id_rsa`, `id_ed25519.old`). Only the end of the name counts: `keyframes.mp4` and
    /// `hockey.mov` are videos, and reading a 2 GB video to find a key costs seconds.
    static func nameMayHoldKey(_ name: some StringProtocol) -> Bool {
        let lowered = name.lowercased()
        var base = Substring(lowered.split(separator: "/").last ?? Substring(lowered))
        for backup in [".bak", ".old", ".orig", ".backup", ".save", ".swp", "~"] where base.hasSuffix(backup) {
            base = base.dropLast(backup.count)
            break
        }
        return [".pem", ".key", ".crt", ".cer", ".p8", ".priv"].contains { base.hasSuffix($0) }
            || ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"].contains { base == $0 || base.hasPrefix($0 + ".") }
    }

    /// Whether a file of `size` bytes named `name`, not read whole, is looked through.
    static func isLookedThrough(size: Int, name: some StringProtocol) -> Bool {
        size <= alwaysScannedBytes || nameMayHoldKey(name)
    }

    /// The verdicts on files looked through, per version (device, inode, size, times), so a
    /// large file is read through once, not on every request for it. Bounded in two
    /// generations of `limit`: when the newer fills, the older goes, and a verdict found in the
    /// older moves to the newer, so the files in use stay known however many there are.
    final class Scans: Sendable {
        struct Version: Hashable {
            var device: UInt64
            var inode: UInt64
            var size: Int
            var modifiedNanoseconds: Int
            var changedNanoseconds: Int
        }

        private struct Generations {
            var newer: [Version: Bool] = [:]
            var older: [Version: Bool] = [:]

            mutating func insert(_ verdict: Bool, for version: Version, limit: Int) {
                if newer.count >= limit {
                    older = newer
                    newer = [:]
                }
                newer[version] = verdict
            }
        }
        private let verdicts = Mutex(Generations())
        let limit: Int

        init(limit: Int = 16_384) { self.limit = limit }

        /// Whether the open file `descriptor`, described by `version`, holds a key.
        func holdsKey(_ version: Version, descriptor: CInt) -> Bool {
            let known = verdicts.withLock { generations -> Bool? in
                if let verdict = generations.newer[version] { return verdict }
                guard let verdict = generations.older[version] else { return nil }
                generations.insert(verdict, for: version, limit: limit)
                return verdict
            }
            if let known { return known }
            let verdict = PrivateKeyPEM.isIn(descriptor: descriptor, size: version.size)
            verdicts.withLock { $0.insert(verdict, for: version, limit: limit) }
            return verdict
        }
    }

    /// True when `bytes` hold the start of a PEM private key block: `PRIVATE KEY-----` with
    /// `-----BEGIN ` at most `longestLine` bytes before it on the same line.
    static func isIn(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.count >= marker.count else { return false }
        var from = 0
        while from <= bytes.count - marker.count {
            // memchr finds each candidate's first byte at memory speed; memmem needs _GNU_SOURCE.
            guard let hit = memchr(base + from, CInt(marker[0]), bytes.count - marker.count + 1 - from) else {
                return false
            }
            let at = base.distance(to: UnsafeRawPointer(hit))
            if bytes[at..<(at + marker.count)].elementsEqual(marker) {
                var start = at
                while start > 0, at - start < longestLine, bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
                // Anywhere on that stretch: a key inside a JSON or JS string is a key too.
                if (start..<at).contains(where: { bytes[$0..<at].starts(with: begin) }) { return true }
            }
            from = at + 1
        }
        return false
    }

    static func isIn(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isIn($0) }
    }

    /// Looks through an open file of `size` bytes in chunks, each overlapping the last by a line.
    static func isIn(descriptor: CInt, size: Int) -> Bool {
        let chunk = 64 * 1024
        var buffer = ByteBuffer()
        var offset = 0
        while offset < size {
            buffer.clear()
            guard case .success(let count) = POSIX.read(descriptor, offset: offset, count: chunk, into: &buffer),
                count > 0
            else { return false }
            if buffer.withUnsafeReadableBytes({ isIn($0) }) { return true }
            if offset + count >= size { return false }
            offset += max(1, count - longestLine - marker.count)
        }
        return false
    }
}
