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

    /// Names whose files are looked through whatever their size: key and certificate
    /// extensions, also as a backup (`server.key.bak`), and the names of SSH keys.
    static func nameMayHoldKey(_ name: some StringProtocol) -> Bool {
        let lowered = name.lowercased()
        let base = lowered.split(separator: "/").last.map(String.init) ?? lowered
        return [".pem", ".key", ".crt", ".cer", ".p8", ".p12", ".pfx", ".priv", ".der"].contains { base.contains($0) }
            || ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "key", "secret"].contains { base.contains($0) }
    }

    /// Whether a file of `size` bytes named `name`, not read whole, is looked through.
    static func isLookedThrough(size: Int, name: some StringProtocol) -> Bool {
        size <= alwaysScannedBytes || nameMayHoldKey(name)
    }

    /// The verdicts on files looked through, per version (device, inode, size, times), so a
    /// large file is read through once, not on every request for it. Bounded: past `limit`
    /// versions it starts again.
    final class Scans: Sendable {
        struct Version: Hashable {
            var device: UInt64
            var inode: UInt64
            var size: Int
            var modifiedNanoseconds: Int
            var changedNanoseconds: Int
        }
        private let verdicts = Mutex<[Version: Bool]>([:])
        static let limit = 4096

        /// Whether the open file `descriptor`, described by `version`, holds a key.
        func holdsKey(_ version: Version, descriptor: CInt) -> Bool {
            if let known = verdicts.withLock({ $0[version] }) { return known }
            let verdict = PrivateKeyPEM.isIn(descriptor: descriptor, size: version.size)
            verdicts.withLock { verdicts in
                if verdicts.count >= Self.limit { verdicts.removeAll(keepingCapacity: true) }
                verdicts[version] = verdict
            }
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
