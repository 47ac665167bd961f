/// A request head as the responder reads it: the method, the raw target, and the header fields
/// devserve acts on, picked out in one pass. Built by the HTTP/1.1 parser straight from the
/// bytes, and from an HTTP/2 stream's header block.
public struct HTTPRequest: Sendable {
    public enum Method: Equatable, Sendable {
        case get, head, options
        case other(String)

        init(_ name: some StringProtocol) {
            switch name {
            case "GET": self = .get
            case "HEAD": self = .head
            case "OPTIONS": self = .options
            default: self = .other(String(name))
            }
        }

        public var name: String {
            switch self {
            case .get: return "GET"
            case .head: return "HEAD"
            case .options: return "OPTIONS"
            case .other(let name): return name
            }
        }
    }

    public var method: Method
    /// The request target exactly as sent.
    public var target: String
    public var versionMinor: Int
    public var scheme: String

    /// Host values (more than one is an error the responder reports).
    public var hosts: [String] = []
    public var origin: String?
    public var secFetchSite: String?
    public var secFetchDest: String?
    public var referer: String?
    public var accept: String?
    public var ifMatch: String?
    public var ifNoneMatch: String?
    public var ifModifiedSince: String?
    public var ifUnmodifiedSince: String?
    public var range: String?
    public var ifRange: String?
    public var accessControlRequestMethod: String?
    public var accessControlRequestHeaders: String?
    /// Whether the client asked to keep the connection open (HTTP/1.1 default, or keep-alive).
    public var keepAlive: Bool
    /// Whether a body follows (Content-Length > 0 or any Transfer-Encoding).
    public var hasBody = false

    public var isHTTP1_0: Bool { versionMinor == 0 }

    /// Whether a validator or a range could change the answer from a plain 200.
    public var isConditionalOrRange: Bool {
        ifMatch != nil || ifNoneMatch != nil || ifModifiedSince != nil || ifUnmodifiedSince != nil || range != nil
    }

    public init(method: Method, target: String, versionMinor: Int = 1, scheme: String = "http") {
        self.method = method
        self.target = target
        self.versionMinor = versionMinor
        self.scheme = scheme
        self.keepAlive = versionMinor >= 1
    }

    /// Records one header field if devserve acts on it. `name` must be lowercased.
    mutating func record(lowercasedName name: String, value: String) {
        switch name {
        case "host": hosts.append(value)
        case "origin": origin = value
        case "sec-fetch-site": secFetchSite = value
        case "sec-fetch-dest": secFetchDest = value
        case "referer": referer = value
        case "accept": accept = value
        case "if-match": ifMatch = value
        case "if-none-match": ifNoneMatch = value
        case "if-modified-since": ifModifiedSince = value
        case "if-unmodified-since": ifUnmodifiedSince = value
        case "range": range = value
        case "if-range": ifRange = value
        case "access-control-request-method": accessControlRequestMethod = value
        case "access-control-request-headers": accessControlRequestHeaders = value
        default: break
        }
    }
}
