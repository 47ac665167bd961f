import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Finds PEM private keys (`-----BEGIN PRIVATE KEY-----`, `… RSA/EC/ENCRYPTED/OPENSSH PRIVATE
/// KEY-----`) so that no file holding one is ever served or listed, wherever it lies under the
/// root and whatever it is called: a `certs/` made by another tool, a key copied next to a page.
///
/// Files small enough to be read whole (the file cache's size) are looked through when they are
/// read, at no extra I/O; larger ones only when their name is one keys are kept under, since
/// reading every video twice to find a key no one would name `.mp4` costs more than it saves.
enum PrivateKeyPEM {
    private static let marker = Array("PRIVATE KEY-----".utf8)
    private static let begin = Array("-----BEGIN ".utf8)
    /// The longest `-----BEGIN … PRIVATE KEY-----` line looked for.
    private static let longestLine = 64

    /// Names whose larger files are looked through too.
    static func nameMayHoldKey(_ name: some StringProtocol) -> Bool {
        let lowered = name.lowercased()
        return [".pem", ".key", ".crt", ".cer", ".p8", ".priv"].contains { lowered.hasSuffix($0) }
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
