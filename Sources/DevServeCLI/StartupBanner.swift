import NIOCore

/// The block printed once listening: the root, every URL, and what is on.
enum LiveReloadMode {
    case on, polling, off
}

struct StartupBanner {
    var root: String
    var addresses: [SocketAddress]
    var lan: Bool
    var liveReload: LiveReloadMode
    var extraWatched = 0
    var tls: Bool
    var networkAddresses: [String] = StartupBanner.lanAddresses()

    var scheme: String { tls ? "https" : "http" }

    /// The URLs to print: localhost first when loopback is served, then each address.
    var urls: [String] {
        var urls: [String] = []
        func add(_ url: String) { if !urls.contains(url) { urls.append(url) } }
        // `localhost` may resolve to either loopback, so it is printed only when both are served.
        let ips = Set(addresses.compactMap(\.ipAddress))
        let servesV4Loopback = ips.contains("127.0.0.1") || ips.contains("0.0.0.0")
        let servesV6Loopback = ips.contains("::1") || ips.contains("::")
        if servesV4Loopback && servesV6Loopback, let port = addresses.first?.port {
            add(url(host: "localhost", port: port))
        }
        for address in addresses {
            guard let ip = address.ipAddress, let port = address.port else { continue }
            switch ip {
            case "0.0.0.0", "::":
                for lanAddress in networkAddresses
                where ip == "::" ? lanAddress.contains(":") : !lanAddress.contains(":") {
                    add(url(host: lanAddress, port: port))
                }
            default:
                add(url(host: ip, port: port))
            }
        }
        return urls
    }

    var primaryURL: String? { urls.first }

    var text: String {
        var text = "devserve \(DevServeCommand.version) serving \(root)\n"
        for url in urls { text += "  \(url)\n" }
        let extra = extraWatched > 0 ? " + \(extraWatched) --watch folder\(extraWatched == 1 ? "" : "s")" : ""
        let reload: String
        switch liveReload {
        case .on: reload = "on" + extra
        case .polling: reload = "on, polling (--poll)" + extra
        case .off: reload = "off (--no-reload)"
        }
        text += "  live reload: \(reload) · HTTPS: \(tls ? "on" : "off") · Ctrl-C stops\n"
        return text
    }

    func url(host: String, port: Int) -> String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let defaultPort = tls ? 443 : 80
        return port == defaultPort ? "\(scheme)://\(bracketed)/" : "\(scheme)://\(bracketed):\(port)/"
    }

    /// This machine's non-loopback addresses (IPv4, and global IPv6), for --lan.
    static func lanAddresses() -> [String] {
        guard let devices = try? System.enumerateDevices() else { return [] }
        var result: [String] = []
        for device in devices {
            guard let address = device.address, let ip = address.ipAddress else { continue }
            if ip.hasPrefix("127.") || ip == "::1" || ip.lowercased().hasPrefix("fe80") { continue }
            if !result.contains(ip) { result.append(ip) }
        }
        return result
    }
}
