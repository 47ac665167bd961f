import DevServeSystem

/// Who may talk to the server: the Host allow-list (against DNS rebinding), Origin and
/// Sec-Fetch rules (against cross-site reads), and CORS when the user asked for it.
///
/// Pure values in, a decision out, so every rule is tested without a socket.
public struct RequestPolicy: Sendable {
    /// Extra host names accepted besides localhost, *.localhost, IP literals and the machine's
    /// names. `*.example.test` accepts every subdomain of example.test.
    public var allowedHosts: [String]
    /// Names of this machine (gethostname and its first label), accepted as Host.
    public var machineNames: [String]
    /// Origins that get CORS headers; `*` for any.
    public var corsOrigins: [String]

    public init(allowedHosts: [String] = [], machineNames: [String] = [], corsOrigins: [String] = []) {
        self.allowedHosts = allowedHosts.map { $0.lowercased() }
        self.machineNames = machineNames.map { $0.lowercased() }
        self.corsOrigins = corsOrigins.map(Self.serializedOrigin)
    }

    /// An origin as browsers send it: scheme and host in lower case, no default port.
    static func serializedOrigin(_ text: String) -> String {
        let origin = text.lowercased()
        for (scheme, port) in [("http://", ":80"), ("https://", ":443")]
        where origin.hasPrefix(scheme) && origin.hasSuffix(port) {
            return String(origin.dropLast(port.count))
        }
        return origin
    }

    public enum Decision: Equatable, Sendable {
        case allow
        case refuse(status: Int, reason: String)
    }

    /// The request facts the policy looks at.
    public struct Facts: Sendable {
        public var host: String?
        public var origin: String?
        public var secFetchSite: String?
        public var secFetchDest: String?
        public var referer: String?
        public var isHTTP1_0: Bool
        public var isInternalPath: Bool
        public var scheme: String

        public init(
            host: String?, origin: String? = nil, secFetchSite: String? = nil, secFetchDest: String? = nil,
            referer: String? = nil, isHTTP1_0: Bool = false, isInternalPath: Bool = false, scheme: String = "http"
        ) {
            self.host = host
            self.origin = origin
            self.secFetchSite = secFetchSite
            self.secFetchDest = secFetchDest
            self.referer = referer
            self.isHTTP1_0 = isHTTP1_0
            self.isInternalPath = isInternalPath
            self.scheme = scheme
        }
    }

    public func evaluate(_ facts: Facts) -> Decision {
        // 1. Host: required on HTTP/1.1, well-formed, and one of ours.
        guard let hostHeader = facts.host else {
            return facts.isHTTP1_0 ? .allow : .refuse(status: 400, reason: "the request has no Host header")
        }
        guard let host = HostHeader(hostHeader) else {
            return .refuse(status: 400, reason: "the Host header is malformed")
        }
        guard isAllowed(host: host) else {
            return .refuse(status: 403, reason: "the Host \(host.name) is not allowed (see --allow-host)")
        }
        // 2. Origin: well-formed when present.
        var origin: OriginHeader?
        if let originHeader = facts.origin {
            guard let parsed = OriginHeader(originHeader) else {
                return .refuse(status: 400, reason: "the Origin header is malformed")
            }
            origin = parsed
        }
        let site = facts.secFetchSite?.lowercased()
        // 3. devserve's own endpoints answer the page's own origin only.
        if facts.isInternalPath {
            if site == "cross-site" { return .refuse(status: 403, reason: "cross-site request to devserve's endpoint") }
            if let origin, !origin.isSameOrigin(as: host, scheme: facts.scheme) {
                return .refuse(status: 403, reason: "cross-origin request to devserve's endpoint")
            }
        }
        // 4. A page on another site may open ours (a link, an iframe), but not load our files
        //    into itself: a script runs with its access, a stylesheet's custom properties, an
        //    image's size, a font, media, an object, a worker or JSON are all readable there.
        if site == "cross-site", !Self.isNavigation(facts.secFetchDest),
            !sharesCrossOrigin(origin: facts.origin, referer: facts.referer)
        {
            return .refuse(status: 403, reason: "cross-site subresource load refused (see --cors)")
        }
        return .allow
    }

    /// The `Sec-Fetch-Dest` of a navigation, which another site may start: a page or a frame.
    static func isNavigation(_ dest: String?) -> Bool {
        guard let dest = dest?.lowercased() else { return false }
        return dest == "document" || dest == "iframe" || dest == "frame"
    }

    /// True when the request comes from a `--cors` origin: its Origin, or, for loads that send
    /// none (no-cors subresources), its Referer's origin.
    public func sharesCrossOrigin(origin: String?, referer: String?) -> Bool {
        guard !corsOrigins.isEmpty else { return false }
        if sharesWithEveryOrigin { return true }
        if let origin { return corsOrigins.contains(origin) }
        guard let referer, let refererOrigin = OriginHeader.origin(ofURL: referer) else { return false }
        return corsOrigins.contains(Self.serializedOrigin(refererOrigin))
    }

    /// `--cors '*'`.
    public var sharesWithEveryOrigin: Bool { corsOrigins.contains("*") }

    /// `Cross-Origin-Resource-Policy` for a response: browsers enforce it on no-cors loads where
    /// Fetch Metadata is missing; `cross-origin` only for `--cors` origins.
    public func resourcePolicy(crossOrigin: Bool) -> String {
        crossOrigin || sharesWithEveryOrigin ? "cross-origin" : "same-site"
    }

    /// The `Access-Control-Allow-Origin` value for a request's Origin, or nil for no CORS headers.
    public func corsAllowOrigin(for origin: String?) -> String? {
        guard let origin, !corsOrigins.isEmpty else { return nil }
        if corsOrigins.contains("*") { return "*" }
        return corsOrigins.contains(origin) ? origin : nil
    }

    func isAllowed(host: HostHeader) -> Bool {
        let name = host.name
        if host.isIPLiteral || name == "localhost" || name.hasUTF8Suffix(".localhost") { return true }
        if machineNames.contains(name) { return true }
        for pattern in allowedHosts {
            if pattern == name { return true }
            if pattern.hasPrefix("*."), name.hasSuffix(pattern.dropFirst()) { return true }
            if pattern.hasPrefix("."), name.hasSuffix(pattern) || name == pattern.dropFirst() { return true }
        }
        return false
    }
}

/// A parsed Host header: a lowercased name without a trailing dot, and an optional port.
struct HostHeader: Equatable {
    var name: String
    var port: Int?
    var isIPLiteral: Bool

    /// Works on the UTF-8 bytes in place: it runs for every request, and String index work
    /// would cost more than the rest of the check.
    init?(_ raw: String) {
        var raw = raw
        guard let parsed = raw.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private init(name: String, port: Int?, isIPLiteral: Bool) {
        self.name = name
        self.port = port
        self.isIPLiteral = isIPLiteral
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> HostHeader? {
        var start = 0
        var end = bytes.count
        while start < end, ASCII.isSpace(bytes[start]) { start += 1 }
        while end > start, ASCII.isSpace(bytes[end - 1]) { end -= 1 }
        guard end > start, end - start <= 255 else { return nil }
        var host = start..<end
        var portStart: Int?
        let isIPLiteral: Bool
        if bytes[start] == UInt8(ascii: "[") {
            guard let close = (start..<end).first(where: { bytes[$0] == UInt8(ascii: "]") }) else { return nil }
            host = (start + 1)..<close
            if close + 1 < end {
                guard bytes[close + 1] == UInt8(ascii: ":") else { return nil }
                portStart = close + 2
            }
            let text = Substring(decoding: UnsafeBufferPointer(rebasing: bytes[host]), as: UTF8.self)
            guard IPAddressText.isIPv6(text) else { return nil }
            isIPLiteral = true
        } else {
            if let colon = (start..<end).first(where: { bytes[$0] == UInt8(ascii: ":") }) {
                host = start..<colon
                portStart = colon + 1
            }
            if !host.isEmpty, bytes[host.upperBound - 1] == UInt8(ascii: ".") {
                host = host.lowerBound..<(host.upperBound - 1)
            }
            guard !host.isEmpty, host.allSatisfy({ isNameByte(bytes[$0]) }) else { return nil }
            isIPLiteral = IPAddressText.isIPv4(utf8: bytes[host])
        }
        var port: Int?
        if let portStart {
            guard portStart < end, end - portStart <= 5 else { return nil }
            var value = 0
            for byte in bytes[portStart..<end] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            guard value <= 65535 else { return nil }
            port = value
        }
        let name = bytes[host]
        let text =
            name.contains(where: ASCII.isUppercase)
            ? ASCII.lowercased(name) : String(decoding: UnsafeBufferPointer(rebasing: name), as: UTF8.self)
        return HostHeader(name: text, port: port, isIPLiteral: isIPLiteral)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}

extension String {
    /// A suffix test on the bytes (`hasSuffix` compares Characters, which costs more per request).
    func hasUTF8Suffix(_ suffix: String) -> Bool {
        let bytes = utf8
        let tail = suffix.utf8
        guard bytes.count >= tail.count else { return false }
        return bytes.dropFirst(bytes.count - tail.count).elementsEqual(tail)
    }
}

/// A parsed Origin header (`scheme://host[:port]` or `null`).
struct OriginHeader: Equatable {
    var scheme: String
    var host: HostHeader?

    init?(_ raw: String) {
        let value = raw.trimmingSpaces()
        if value == "null" {
            scheme = "null"
            host = nil
            return
        }
        guard let separator = value.firstRange(of: "://") else { return nil }
        let scheme = value[..<separator.lowerBound].lowercased()
        guard !scheme.isEmpty, scheme.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || $0 == 43 || $0 == 45 || $0 == 46 })
        else { return nil }
        let authority = value[separator.upperBound...]
        guard !authority.contains("/"), !authority.contains("@"), let host = HostHeader(String(authority)) else {
            return nil
        }
        self.scheme = scheme
        self.host = host
    }

    /// Same origin as a request that arrived with this Host over `scheme`.
    func isSameOrigin(as requestHost: HostHeader, scheme requestScheme: String) -> Bool {
        guard let host, scheme == requestScheme, host.name == requestHost.name else { return false }
        let defaultPort = requestScheme == "https" ? 443 : 80
        return (host.port ?? defaultPort) == (requestHost.port ?? defaultPort)
    }

    /// `scheme://host[:port]` of an absolute URL, or nil.
    static func origin(ofURL url: String) -> String? {
        guard let separator = url.firstRange(of: "://") else { return nil }
        let afterScheme = url[separator.upperBound...]
        let end = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        return String(url[..<end])
    }
}

/// Recognisers for IP address literals in their textual forms: IPv4 byte by byte (every Host
/// header is looked at), IPv6 by the system's parser.
enum IPAddressText {
    static func isIPv4(_ text: some StringProtocol) -> Bool { isIPv4(utf8: text.utf8) }

    static func isIPv4(utf8 text: some Sequence<UInt8>) -> Bool {
        var dots = 0
        var digits = 0
        var value = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0 else { return false }
                dots += 1
                digits = 0
                value = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 3 else { return false }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            guard value < 256 else { return false }
            digits += 1
        }
        return dots == 3 && digits > 0
    }

    /// An IPv6 literal, with a zone (`%eth0`) allowed, as inet_pton reads it.
    static func isIPv6(_ text: some StringProtocol) -> Bool {
        var address = Substring(text)
        if let zone = address.firstIndex(of: "%") { address = address[..<zone] }
        return address.contains(":") && IPAddress(address) != nil
    }
}
