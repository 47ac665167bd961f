import DevServeSystem

/// The addresses the local CA may vouch for.
extension IPAddress {
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
