/// A request head as the responder reads it: the method, the raw target, and the header fields
/// devserve acts on, picked out in one pass. Built by the HTTP/1.1 parser straight from the
/// bytes, and from an HTTP/2 stream's header block.
public struct HTTPRequest: Sendable {
    public enum Method: Equatable, Sendable {
        case get, head, options
        case other(String)

        package init(_ name: some StringProtocol) {
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
    package mutating func record(lowercasedName name: String, value: String) {
        if let field = Field(lowercasedName: name) { record(field, value: value) }
    }

    /// Records `value` for `field`.
    package mutating func record(_ field: Field, value: String) {
        switch field {
        case .host: hosts.append(value)
        case .origin: origin = value
        case .secFetchSite: secFetchSite = value
        case .secFetchDest: secFetchDest = value
        case .referer: referer = value
        case .accept: accept = value
        case .ifMatch: ifMatch = value
        case .ifNoneMatch: ifNoneMatch = value
        case .ifModifiedSince: ifModifiedSince = value
        case .ifUnmodifiedSince: ifUnmodifiedSince = value
        case .range: range = value
        case .ifRange: ifRange = value
        case .accessControlRequestMethod: accessControlRequestMethod = value
        case .accessControlRequestHeaders: accessControlRequestHeaders = value
        }
    }

    /// The request header fields devserve acts on: the one table the HTTP/1.1 parser matches
    /// names against, HTTP/2 header blocks are read by, and `record` stores. A new field is a
    /// case here, a property above, and a line in `record` (the compiler asks for it).
    public enum Field: String, CaseIterable, Sendable {
        case host
        case origin
        case secFetchSite = "sec-fetch-site"
        case secFetchDest = "sec-fetch-dest"
        case referer
        case accept
        case ifMatch = "if-match"
        case ifNoneMatch = "if-none-match"
        case ifModifiedSince = "if-modified-since"
        case ifUnmodifiedSince = "if-unmodified-since"
        case range
        case ifRange = "if-range"
        case accessControlRequestMethod = "access-control-request-method"
        case accessControlRequestHeaders = "access-control-request-headers"

        /// The field's name, lowercased.
        public var name: String { rawValue }

        init?(lowercasedName name: String) { self.init(rawValue: name) }
    }

    /// The framing fields, which the HTTP/1.1 parser reads itself and a response never repeats.
    public static let framingFields = ["content-length", "transfer-encoding", "connection"]
}

/// The response header fields devserve sets itself: `--header` may not name one, since a second
/// value would contradict devserve's (HTTP/1.1-only names such as Keep-Alive are allowed, and
/// left out of HTTP/2 responses).
public enum ResponseFields {
    public static let setByDevserve: Set<String> = Set(
        HTTPRequest.framingFields + [
            "content-range", "content-type", "date", "etag", "last-modified", "accept-ranges", "cache-control",
            "x-content-type-options", "location", "allow", "access-control-allow-origin",
            "cross-origin-resource-policy",
        ])
}
