#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An IPv4 or IPv6 address as bytes, so addresses compare the same whatever way they were written.
struct IPAddress: Hashable, Sendable {
    /// 4 bytes for IPv4, 16 for IPv6.
    var bytes: [UInt8]

    init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses dotted IPv4 or IPv6 text (brackets allowed around IPv6).
    init?(_ text: String) {
        var text = text
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var buffer = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, text, &buffer) == 1 {
            bytes = Array(buffer.prefix(4))
        } else if inet_pton(AF_INET6, text, &buffer) == 1 {
            bytes = buffer
        } else {
            return nil
        }
    }

    /// The canonical text, as inet_ntop writes it.
    var text: String {
        var output = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard inet_ntop(family, bytes, &output, socklen_t(output.count)) != nil else { return "invalid" }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The networks the local CA's nameConstraints permit: (network bytes, prefix length).
    static let permittedNetworks: [(IPAddress, Int)] = [
        ("127.0.0.0", 8), ("10.0.0.0", 8), ("172.16.0.0", 12), ("192.168.0.0", 16), ("::1", 128), ("fc00::", 7),
    ].compactMap { text, prefix in IPAddress(text).map { ($0, prefix) } }

    /// Whether the address lies in one of `permittedNetworks`.
    var isPermitted: Bool {
        Self.permittedNetworks.contains { network, prefix in contains(in: network, prefix: prefix) }
    }

    private func contains(in network: IPAddress, prefix: Int) -> Bool {
        guard network.bytes.count == bytes.count else { return false }
        for bit in 0..<prefix {
            let mask = UInt8(0x80) >> UInt8(bit % 8)
            if bytes[bit / 8] & mask != network.bytes[bit / 8] & mask { return false }
        }
        return true
    }

    /// The network and mask in the form OpenSSL's nameConstraints config wants: `10.0.0.0/255.0.0.0`.
    static func constraintText(network: IPAddress, prefix: Int) -> String {
        var mask = [UInt8](repeating: 0, count: network.bytes.count)
        for bit in 0..<prefix { mask[bit / 8] |= UInt8(0x80) >> UInt8(bit % 8) }
        let maskText = IPAddress(bytes: mask)?.text ?? "invalid"
        return "\(network.text)/\(maskText)"
    }
}
