import NIOCore

/// The browser client, embedded in the binary from `Resources/client.js`.
package enum ClientScript {
    package static let bytes = ByteBuffer(bytes: PackageResources.client_js)
    /// A short hash of the script, so pages' ETags change when it does.
    package static let version: String = {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in PackageResources.client_js {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash & 0xFFFF_FFFF, radix: 36)
    }()
    package static let etag = "\"client-\(version)\""
}
