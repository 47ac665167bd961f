import Testing

@testable import DevServeHTTP
@testable import DevServeServer
@testable import DevServeSite

/// The HTTP/1.1 request-head parser as tables: heads it must accept (and exactly what it must
/// read from them), heads it must refuse (and with which status), the same heads fed in every
/// split the network could deliver them in, and a seeded stream of random bytes.
@Suite struct HTTP1ParserTests {
    // MARK: Support

    /// Every field of a parsed request, comparable as a whole.
    struct Fields: Equatable, Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method = .get
        var target = "/"
        var versionMinor = 1
        var scheme = "http"
        var hosts: [String] = []
        var origin: String?
        var secFetchSite: String?
        var secFetchDest: String?
        var referer: String?
        var accept: String?
        var ifMatch: String?
        var ifNoneMatch: String?
        var ifModifiedSince: String?
        var ifUnmodifiedSince: String?
        var range: String?
        var ifRange: String?
        var accessControlRequestMethod: String?
        var accessControlRequestHeaders: String?
        var keepAlive = true
        var hasBody = false

        init() {}

        init(_ request: HTTPRequest) {
            method = request.method
            target = request.target
            versionMinor = request.versionMinor
            scheme = request.scheme
            hosts = request.hosts
            origin = request.origin
            secFetchSite = request.secFetchSite
            secFetchDest = request.secFetchDest
            referer = request.referer
            accept = request.accept
            ifMatch = request.ifMatch
            ifNoneMatch = request.ifNoneMatch
            ifModifiedSince = request.ifModifiedSince
            ifUnmodifiedSince = request.ifUnmodifiedSince
            range = request.range
            ifRange = request.ifRange
            accessControlRequestMethod = request.accessControlRequestMethod
            accessControlRequestHeaders = request.accessControlRequestHeaders
            keepAlive = request.keepAlive
            hasBody = request.hasBody
        }

        var description: String {
            var parts = ["\(method.name) \(target) HTTP/1.\(versionMinor) (\(scheme))", "hosts=\(hosts)"]
            let optionals: [(String, String?)] = [
                ("origin", origin), ("sec-fetch-site", secFetchSite), ("sec-fetch-dest", secFetchDest),
                ("referer", referer), ("accept", accept), ("if-match", ifMatch), ("if-none-match", ifNoneMatch),
                ("if-modified-since", ifModifiedSince), ("if-unmodified-since", ifUnmodifiedSince),
                ("range", range), ("if-range", ifRange), ("acr-method", accessControlRequestMethod),
                ("acr-headers", accessControlRequestHeaders),
            ]
            for (name, value) in optionals {
                if let value { parts.append("\(name)=\(value.debugDescription)") }
            }
            parts.append("keepAlive=\(keepAlive)")
            parts.append("hasBody=\(hasBody)")
            return parts.joined(separator: " ")
        }
    }

    /// A parser outcome, comparable as a whole.
    enum Parsed: Equatable, CustomStringConvertible {
        case incomplete(scanned: Int)
        case complete(Fields, length: Int)
        case invalid(status: Int, reason: String)

        init(_ outcome: HTTP1Parser.Outcome) {
            switch outcome {
            case .incomplete(let scanned): self = .incomplete(scanned: scanned)
            case .complete(let request, let length): self = .complete(Fields(request), length: length)
            case .invalid(let status, let reason): self = .invalid(status: status, reason: reason)
            }
        }

        var status: Int? {
            if case .invalid(let status, _) = self { return status }
            return nil
        }

        var isIncomplete: Bool {
            if case .incomplete = self { return true }
            return false
        }

        var description: String {
            switch self {
            case .incomplete(let scanned): return "incomplete(scanned: \(scanned))"
            case .complete(let fields, let length): return "complete(length: \(length), \(fields))"
            case .invalid(let status, let reason): return "invalid(\(status), \(reason.debugDescription))"
            }
        }
    }

    static func parse(_ bytes: [UInt8], from: Int = 0, scheme: String = "http") -> Parsed {
        Parsed(bytes.withUnsafeBytes { HTTP1Parser.parse($0, from: from, scheme: scheme) })
    }

    /// Feeds `bytes` as the connection does: each call sees everything received so far and resumes
    /// at the `scanned` the previous call returned. `cuts` are the buffer sizes after each read;
    /// the last read delivers the rest. Returns every outcome, stopping at the first final one.
    static func feed(_ bytes: [UInt8], cuts: [Int], sourceLocation: SourceLocation = #_sourceLocation) -> [Parsed] {
        var outcomes: [Parsed] = []
        var scanned = 0
        for size in cuts + [bytes.count] {
            let outcome = parse(Array(bytes[0..<size]), from: scanned)
            outcomes.append(outcome)
            guard case .incomplete(let next) = outcome else { return outcomes }
            #expect(
                next >= scanned && next <= size, "scanned went from \(scanned) to \(next) of \(size)",
                sourceLocation: sourceLocation)
            scanned = next
        }
        return outcomes
    }

    /// Bytes with CR, LF, tab, controls and non-ASCII made visible.
    static func escaped(_ bytes: [UInt8]) -> String {
        bytes.map { byte -> String in
            switch byte {
            case 13: return "\\r"
            case 10: return "\\n"
            case 9: return "\\t"
            case 0x20..<0x7F: return String(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                return "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }.joined()
    }

    static let crlfcrlf: [UInt8] = [13, 10, 13, 10]

    // MARK: Valid heads

    struct Valid: Sendable, CustomTestStringConvertible {
        var head: [UInt8]
        var expected: Fields

        init(_ head: String, _ configure: (inout Fields) -> Void = { _ in }) {
            self.head = Array(head.utf8)
            var fields = Fields()
            configure(&fields)
            expected = fields
        }

        var testDescription: String { HTTP1ParserTests.escaped(head) }
    }

    static let methodsAndTargets: [Valid] = [
        Valid("GET / HTTP/1.1\r\nHost: h\r\n\r\n") { $0.hosts = ["h"] },
        Valid("HEAD /index.html HTTP/1.1\r\nHost: h\r\n\r\n") {
            $0.method = .head
            $0.target = "/index.html"
            $0.hosts = ["h"]
        },
        Valid("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") {
            $0.method = .options
            $0.target = "*"
            $0.hosts = ["h"]
        },
        Valid("OPTIONS /a HTTP/1.1\r\n\r\n") {
            $0.method = .options
            $0.target = "/a"
        },
        Valid("DELETE /x HTTP/1.1\r\n\r\n") {
            $0.method = .other("DELETE")
            $0.target = "/x"
        },
        Valid("PATCH /x HTTP/1.1\r\n\r\n") {
            $0.method = .other("PATCH")
            $0.target = "/x"
        },
        Valid("PROPFIND /x HTTP/1.1\r\n\r\n") {
            $0.method = .other("PROPFIND")
            $0.target = "/x"
        },
        // Methods are case-sensitive tokens (RFC 9110 §9.1): `get` is not GET.
        Valid("get / HTTP/1.1\r\n\r\n") { $0.method = .other("get") },
        Valid("M-SEARCH * HTTP/1.1\r\n\r\n") {
            $0.method = .other("M-SEARCH")
            $0.target = "*"
        },
        Valid("X!#$%&'*+-.^_`|~9 / HTTP/1.1\r\n\r\n") { $0.method = .other("X!#$%&'*+-.^_`|~9") },
        // Targets come back byte for byte: no decoding, no normalization.
        Valid("GET /a/b/c.txt?x=1&y=%2F HTTP/1.1\r\n\r\n") { $0.target = "/a/b/c.txt?x=1&y=%2F" },
        Valid("GET /caf%C3%A9%20%2e%2E/ HTTP/1.1\r\n\r\n") { $0.target = "/caf%C3%A9%20%2e%2E/" },
        Valid("GET /a//b/../c/./d HTTP/1.1\r\n\r\n") { $0.target = "/a//b/../c/./d" },
        Valid("GET /?q= HTTP/1.1\r\n\r\n") { $0.target = "/?q=" },
        Valid("GET /%00%ff HTTP/1.1\r\n\r\n") { $0.target = "/%00%ff" },
        Valid("GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n") {
            $0.target = "http://h/p"
            $0.hosts = ["h"]
        },
        Valid("GET http://example.com:8080/p?q=1 HTTP/1.1\r\n\r\n") { $0.target = "http://example.com:8080/p?q=1" },
        Valid("CONNECT example.com:443 HTTP/1.1\r\n\r\n") {
            $0.method = .other("CONNECT")
            $0.target = "example.com:443"
        },
    ]

    static let versionsAndConnection: [Valid] = [
        Valid("GET / HTTP/1.0\r\n\r\n") {
            $0.versionMinor = 0
            $0.keepAlive = false
        },
        Valid("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") { $0.versionMinor = 0 },
        Valid("GET / HTTP/1.0\r\nConnection: Keep-Alive, Upgrade\r\n\r\n") { $0.versionMinor = 0 },
        Valid("GET / HTTP/1.0\r\nconnection:KEEP-ALIVE\r\n\r\n") { $0.versionMinor = 0 },
        Valid("GET / HTTP/1.0\r\nConnection: Upgrade\r\nConnection: keep-alive\r\n\r\n") { $0.versionMinor = 0 },
        Valid("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n") {
            $0.versionMinor = 0
            $0.keepAlive = false
        },
        Valid("GET / HTTP/1.0\r\nConnection: Upgrade\r\n\r\n") {
            $0.versionMinor = 0
            $0.keepAlive = false
        },
        Valid("GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n") {
            $0.versionMinor = 0
            $0.keepAlive = false
        },
        Valid("GET / HTTP/1.1\r\n\r\n"),
        Valid("GET / HTTP/1.1\r\nConnection: close\r\n\r\n") { $0.keepAlive = false },
        Valid("GET / HTTP/1.1\r\nCONNECTION: Close\r\n\r\n") { $0.keepAlive = false },
        Valid("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"),
        Valid("GET / HTTP/1.1\r\nConnection: Keep-Alive, Upgrade\r\n\r\n"),
        Valid("GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\n") { $0.keepAlive = false },
        Valid("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n") { $0.keepAlive = false },
        Valid("GET / HTTP/1.1\r\nConnection: foo,\tclose\t\r\n\r\n") { $0.keepAlive = false },
        Valid("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n") { $0.keepAlive = false },
        Valid("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n"),
        Valid("GET / HTTP/1.1\r\nConnection:\r\n\r\n"),
        // A higher minor version is read as the highest one spoken (RFC 9110 §2.5).
        Valid("GET / HTTP/1.2\r\n\r\n"),
        Valid("GET / HTTP/1.9\r\nConnection: close\r\n\r\n") { $0.keepAlive = false },
    ]

    static let headerFields: [Valid] = [
        // Names are case-insensitive.
        Valid("GET / HTTP/1.1\r\nHOST: h\r\n\r\n") { $0.hosts = ["h"] },
        Valid("GET / HTTP/1.1\r\nhOsT: h\r\n\r\n") { $0.hosts = ["h"] },
        Valid("GET / HTTP/1.1\r\nIf-None-Match: \"abc\"\r\n\r\n") { $0.ifNoneMatch = "\"abc\"" },
        Valid("GET / HTTP/1.1\r\nif-none-match: W/\"a\", \"b\"\r\n\r\n") { $0.ifNoneMatch = "W/\"a\", \"b\"" },
        Valid("GET / HTTP/1.1\r\nIF-NONE-MATCH: *\r\n\r\n") { $0.ifNoneMatch = "*" },
        Valid(
            "GET /f HTTP/1.1\r\nHost: h:8080\r\nOrigin: http://o\r\nSec-Fetch-Site: same-origin\r\n"
                + "Sec-Fetch-Dest: document\r\nReferer: http://r/x\r\nAccept: text/html, */*;q=0.8\r\n"
                + "If-Match: \"m\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                + "If-Unmodified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\nRange: bytes=0-99\r\nIf-Range: \"r\"\r\n"
                + "Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: x-a, x-b\r\n"
                + "X-Ignored: whatever\r\n\r\n"
        ) {
            $0.target = "/f"
            $0.hosts = ["h:8080"]
            $0.origin = "http://o"
            $0.secFetchSite = "same-origin"
            $0.secFetchDest = "document"
            $0.referer = "http://r/x"
            $0.accept = "text/html, */*;q=0.8"
            $0.ifMatch = "\"m\""
            $0.ifModifiedSince = "Sun, 06 Nov 1994 08:49:37 GMT"
            $0.ifUnmodifiedSince = "Mon, 07 Nov 1994 08:49:37 GMT"
            $0.range = "bytes=0-99"
            $0.ifRange = "\"r\""
            $0.accessControlRequestMethod = "PUT"
            $0.accessControlRequestHeaders = "x-a, x-b"
        },
        // OWS around values is not part of them; whitespace inside is.
        Valid("GET / HTTP/1.1\r\nHost:h\r\n\r\n") { $0.hosts = ["h"] },
        Valid("GET / HTTP/1.1\r\nHost:   h   \r\n\r\n") { $0.hosts = ["h"] },
        Valid("GET / HTTP/1.1\r\nHost:\th\t\r\n\r\n") { $0.hosts = ["h"] },
        Valid("GET / HTTP/1.1\r\nHost: \t \th \t \r\n\r\n") { $0.hosts = ["h"] },
        Valid("GET / HTTP/1.1\r\nAccept: a  b\tc\r\n\r\n") { $0.accept = "a  b\tc" },
        Valid("GET / HTTP/1.1\r\nReferer: http://h/a:b:c\r\n\r\n") { $0.referer = "http://h/a:b:c" },
        // obs-text is allowed in a value (RFC 9110 §5.5).
        Valid("GET / HTTP/1.1\r\nReferer: http://h/café\r\n\r\n") { $0.referer = "http://h/café" },
        // Empty values.
        Valid("GET / HTTP/1.1\r\nHost:\r\n\r\n") { $0.hosts = [""] },
        Valid("GET / HTTP/1.1\r\nHost: \t \r\n\r\n") { $0.hosts = [""] },
        Valid("GET / HTTP/1.1\r\nOrigin:\r\nX-Empty:\r\n\r\n") { $0.origin = "" },
        // Every Host is recorded, in order; the responder refuses more than one.
        Valid("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") { $0.hosts = ["a", "b"] },
        Valid("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nhost: a\r\nHOST:\r\n\r\n") { $0.hosts = ["a", "a", ""] },
        // Unknown names with every token character are skipped.
        Valid("GET / HTTP/1.1\r\nX!#$%&'*+-.^_`|~0: v\r\n\r\n"),
        Valid("GET / HTTP/1.1\r\nX-Host: h\r\nHostX: h\r\nHos: h\r\n\r\n"),
        // Empty lines before the request line are skipped (RFC 9112 §2.2) but counted in `length`.
        Valid("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") { $0.hosts = ["h"] },
        Valid("\r\n\r\n\r\nHEAD /x HTTP/1.0\r\n\r\n") {
            $0.method = .head
            $0.target = "/x"
            $0.versionMinor = 0
            $0.keepAlive = false
        },
    ]

    static let bodies: [Valid] = [
        Valid("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\n") {
            $0.method = .other("POST")
            $0.target = "/p"
            $0.hasBody = true
        },
        Valid("POST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n") {
            $0.method = .other("POST")
            $0.target = "/p"
        },
        Valid("GET / HTTP/1.1\r\ncontent-length:\t0\t\r\n\r\n"),
        Valid("GET / HTTP/1.1\r\nContent-Length: 000\r\n\r\n"),
        Valid("GET / HTTP/1.1\r\nContent-Length: 007\r\n\r\n") { $0.hasBody = true },
        Valid("GET / HTTP/1.1\r\nContent-Length: 999999999999999999\r\n\r\n") { $0.hasBody = true },
        // Equal duplicates are one length (RFC 9110 §8.6).
        Valid("GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") { $0.hasBody = true },
        Valid("GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 00\r\n\r\n"),
        Valid("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") {
            $0.method = .other("POST")
            $0.target = "/p"
            $0.hasBody = true
        },
        Valid("GET / HTTP/1.1\r\nTRANSFER-ENCODING: gzip, chunked\r\n\r\n") { $0.hasBody = true },
        Valid("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") {
            $0.versionMinor = 0
            $0.keepAlive = false
            $0.hasBody = true
        },
    ]

    @Test(arguments: methodsAndTargets + versionsAndConnection + headerFields + bodies)
    func validHeadIsReadExactly(_ valid: Valid) {
        #expect(Self.parse(valid.head) == .complete(valid.expected, length: valid.head.count))
    }

    /// Pipelined bytes after the head are left for the next call, and a second head parses from there.
    @Test(arguments: methodsAndTargets + versionsAndConnection + headerFields + bodies)
    func pipelinedBytesAreNotConsumed(_ valid: Valid) {
        let next = Array("PUT /next HTTP/1.0\r\nHost: n\r\n\r\n".utf8)
        for trailing in [Array("hello".utf8), [13], [13, 10], Self.crlfcrlf, next] {
            let bytes = valid.head + trailing
            #expect(
                Self.parse(bytes) == .complete(valid.expected, length: valid.head.count),
                "followed by \(Self.escaped(trailing))")
        }
        var second = Fields()
        second.method = .other("PUT")
        second.target = "/next"
        second.versionMinor = 0
        second.hosts = ["n"]
        second.keepAlive = false
        let both = valid.head + next
        guard case .complete(_, let length) = Self.parse(both) else {
            Issue.record("the first head is not complete")
            return
        }
        #expect(Self.parse(Array(both[length...])) == .complete(second, length: next.count))
    }

    /// Every field in the one table (`HTTPRequest.Field`) is read by the parser, whatever its
    /// case on the wire, and lands in a property of its own: exactly one field of the parsed
    /// request differs from a request without it.
    @Test(arguments: HTTPRequest.Field.allCases)
    func everyFieldOfTheTableIsReadIntoItsOwnProperty(_ field: HTTPRequest.Field) {
        let wireName = field.name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined(separator: "-")
        let extra = field == .host ? "" : "\(wireName): v\r\n"
        let head = Array("GET / HTTP/1.1\r\nHost: h\r\n\(extra)\r\n".utf8)
        guard case .complete(let parsed, _) = Self.parse(head) else {
            Issue.record("\(wireName) was not parsed")
            return
        }
        var bare = Fields()
        bare.hosts = ["h"]
        let changed = zip(Mirror(reflecting: parsed).children, Mirror(reflecting: bare).children).filter {
            String(describing: $0.0.value) != String(describing: $0.1.value)
        }
        if field == .host {
            #expect(changed.isEmpty && parsed.hosts == ["h"])
        } else {
            #expect(changed.map(\.0.label) == [Self.propertyName(field)], "\(wireName)")
            #expect(changed.map { String(describing: $0.0.value) } == ["Optional(\"v\")"])
        }
    }

    /// `sec-fetch-site` as the Swift property name `secFetchSite`.
    static func propertyName(_ field: HTTPRequest.Field) -> String {
        let words = field.name.split(separator: "-")
        return String(words[0]) + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    @Test func schemeIsPassedThrough() {
        var expected = Fields()
        expected.scheme = "https"
        expected.hosts = ["h"]
        let head = Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        #expect(Self.parse(head, scheme: "https") == .complete(expected, length: head.count))
    }

    // MARK: Refused heads

    struct Refused: Sendable, CustomTestStringConvertible {
        var head: [UInt8]
        var status: Int

        init(_ head: String, _ status: Int = 400) {
            self.head = Array(head.utf8)
            self.status = status
        }

        init(bytes head: [UInt8], _ status: Int = 400) {
            self.head = head
            self.status = status
        }

        var testDescription: String { "\(HTTP1ParserTests.escaped(head)) → \(status)" }
    }

    /// Bare LF and bare CR (RFC 9112 §2.2: a bare CR must be refused or replaced with SP).
    static let lineEndings: [Refused] = [
        Refused("GET / HTTP/1.1\nHost: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: h\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: h\r\n\n"),
        Refused("GET / HTTP/1.1\nHost: h\n\n"),
        Refused("GET / HTTP/1.1\n\n"),
        Refused("\nGET / HTTP/1.1\r\n\r\n"),
        Refused("\r\n\nGET / HTTP/1.1\r\n\r\n"),
        Refused("GET /\r HTTP/1.1\r\n\r\n"),
        Refused("GET / HTTP/1.1\rX\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\r\n\r\n"),
        Refused("\rGET / HTTP/1.1\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHo\rst: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\n\rHost: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n\r\n"),
        // A bare CR must not hide the fields after it: here a body length.
        Refused("POST / HTTP/1.1\r\nX: a\rb\r\nContent-Length: 5\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nX: a\r\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
    ]

    static let headerLines: [Refused] = [
        // obs-fold (RFC 9112 §5.2), and whitespace before the first field (§2.2).
        Refused("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: h\r\n\tfolded\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\n Host: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\n\tHost: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: h\r\n \r\n\r\n"),
        // Whitespace between name and colon (RFC 9112 §5.1).
        Refused("GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n"),
        // Empty or missing name.
        Refused("GET / HTTP/1.1\r\n: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\n:\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost\r\n\r\n"),
        // Names that are not tokens.
        Refused("GET / HTTP/1.1\r\nHo st: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost@: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\n(x): y\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nX\"y: z\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nX/y: z\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\n[x]: y\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHöst: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\n\u{1}Host: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost\u{0}: h\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost\u{7F}: h\r\n\r\n"),
        // Control characters in a value (HTAB is allowed: see the valid tables).
        Refused("GET / HTTP/1.1\r\nHost: a\u{0}b\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: \u{0}\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: h\u{0} \r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: a\u{1}b\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nHost: a\u{7F}b\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nX-Unknown: a\u{1B}[0m\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nAccept: \u{1F}\r\n\r\n"),
        Refused("GET / HTTP/1.1\r\nConnection: close\u{0}\r\n\r\n"),
    ]

    static let requestLines: [Refused] = [
        // Bytes in the target that must be percent-encoded.
        Refused("GET /café HTTP/1.1\r\n\r\n"),
        Refused(bytes: Array("GET /".utf8) + [0xFF] + Array(" HTTP/1.1\r\n\r\n".utf8)),
        Refused(bytes: Array("GET /".utf8) + [0x80] + Array(" HTTP/1.1\r\n\r\n".utf8)),
        Refused("GET /a\u{7F} HTTP/1.1\r\n\r\n"),
        Refused("GET /a\u{0} HTTP/1.1\r\n\r\n"),
        Refused("GET /a\u{1} HTTP/1.1\r\n\r\n"),
        Refused("GET /a\tb HTTP/1.1\r\n\r\n"),
        Refused("GET /a b HTTP/1.1\r\n\r\n"),
        // Missing parts, extra whitespace.
        Refused("GET\r\n\r\n"),
        Refused("GET /\r\n\r\n"),
        Refused("GET / \r\n\r\n"),
        Refused("/ HTTP/1.1\r\n\r\n"),
        Refused(" / HTTP/1.1\r\n\r\n"),
        Refused("GET  HTTP/1.1\r\n\r\n"),
        Refused("GET  / HTTP/1.1\r\n\r\n"),
        Refused("GET /  HTTP/1.1\r\n\r\n"),
        Refused(" GET / HTTP/1.1\r\n\r\n"),
        Refused("GET / HTTP/1.1 \r\n\r\n"),
        Refused("GET / HTTP/1.1 extra\r\n\r\n"),
        Refused("GET\t/\tHTTP/1.1\r\n\r\n"),
        Refused("GET /\tHTTP/1.1\r\n\r\n"),
        Refused("G(T / HTTP/1.1\r\n\r\n"),
        Refused("GE@ / HTTP/1.1\r\n\r\n"),
        Refused("GÉT / HTTP/1.1\r\n\r\n"),
        Refused("Host: h\r\n\r\n"),
        // Malformed versions.
        Refused("GET / http/1.1\r\n\r\n"),
        Refused("GET / Http/1.1\r\n\r\n"),
        Refused("GET / HTTP/1.11\r\n\r\n"),
        Refused("GET / HTTP/1\r\n\r\n"),
        Refused("GET / HTTP/1.\r\n\r\n"),
        Refused("GET / HTTP/11\r\n\r\n"),
        Refused("GET / HTTP/1.x\r\n\r\n"),
        Refused("GET / HTTP/1,1\r\n\r\n"),
        Refused("GET / HTTP/ 1.1\r\n\r\n"),
        Refused("GET / HTTPS/1.1\r\n\r\n"),
        Refused("GET / HTTP/10.0\r\n\r\n"),
        Refused("GET / HTTP/2\r\n\r\n"),
        // Well-formed versions of another major: 505 (RFC 9110 §15.6.6).
        Refused("GET / HTTP/2.0\r\n\r\n", 505),
        Refused("GET / HTTP/0.9\r\n\r\n", 505),
        Refused("GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505),
        Refused("GET / HTTP/9.9\r\n\r\n", 505),
        Refused("PRI * HTTP/2.0\r\n\r\n", 505),
    ]

    static let framing: [Refused] = [
        // Content-Length with Transfer-Encoding (RFC 9112 §6.3), in either order.
        Refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"),
        Refused("POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n"),
        // Conflicting lengths.
        Refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n"),
        // Malformed lengths (RFC 9110 §8.6: 1*DIGIT).
        Refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 1\t2\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 5.0\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length:  \r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 0000000000000000000\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n"),
        Refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: x\r\n\r\n"),
    ]

    @Test(arguments: lineEndings + headerLines + requestLines + framing)
    func refusedWithExactStatus(_ refused: Refused) {
        let parsed = Self.parse(refused.head)
        #expect(parsed.status == refused.status, "got \(parsed)")
    }

    /// Fed one byte at a time, a refused head never completes and is refused with the same status.
    @Test(arguments: lineEndings + headerLines + requestLines + framing)
    func refusedTheSameWayByteByByte(_ refused: Refused) {
        let outcomes = Self.feed(refused.head, cuts: Array(1..<refused.head.count))
        let last = outcomes.last
        #expect(last?.status == refused.status, "got \(last.map(String.init(describing:)) ?? "nothing")")
        #expect(outcomes.dropLast().allSatisfy { $0.isIncomplete })
    }

    // MARK: Incremental parsing

    struct Incremental: Sendable, CustomTestStringConvertible {
        var head: [UInt8]
        var trailing: [UInt8]

        init(_ head: String, trailing: String = "") {
            self.head = Array(head.utf8)
            self.trailing = Array(trailing.utf8)
        }

        var bytes: [UInt8] { head + trailing }
        var testDescription: String { HTTP1ParserTests.escaped(head) }
    }

    static let incremental: [Incremental] = [
        Incremental("GET / HTTP/1.1\r\n\r\n"),
        Incremental("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        Incremental("\r\n\r\nGET /a?b=c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        Incremental(
            "OPTIONS * HTTP/1.1\r\nHost: h\r\nOrigin: http://o\r\nAccess-Control-Request-Method: GET\r\n"
                + "Access-Control-Request-Headers: x\r\n\r\n"),
        Incremental(
            "GET /x%20y HTTP/1.1\r\nHost:\t h \t\r\nIf-None-Match: \"a\", \"b\"\r\nRange: bytes=0-1\r\n"
                + "Empty:\r\nConnection: close\r\n\r\n", trailing: "GET / HTTP/1.1\r\n\r\n"),
        Incremental("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", trailing: "hello"),
        Incremental("\r\nHEAD http://h/p HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", trailing: "\r\n"),
    ]

    /// Every prefix shorter than the head is incomplete; resuming from its `scanned` with all the
    /// bytes gives exactly what one call over all the bytes gives.
    @Test(arguments: incremental)
    func everySplitPosition(_ row: Incremental) {
        let bytes = row.bytes
        let atOnce = Self.parse(bytes)
        #expect(atOnce == Self.parse(row.head))
        guard case .complete(_, let length) = atOnce else {
            Issue.record("not complete at once: \(atOnce)")
            return
        }
        #expect(length == row.head.count)
        for split in 0...bytes.count {
            let prefix = Array(bytes[0..<split])
            let first = Self.parse(prefix)
            if split < row.head.count {
                guard case .incomplete(let scanned) = first else {
                    Issue.record("prefix of \(split) bytes: \(first)")
                    continue
                }
                #expect(scanned <= split, "prefix of \(split) bytes")
                #expect(Self.parse(bytes, from: scanned) == atOnce, "resumed at \(scanned) after \(split) bytes")
                // Resuming on the same prefix changes nothing.
                #expect(Self.parse(prefix, from: scanned) == first, "prefix of \(split) bytes again")
            } else {
                #expect(first == atOnce, "prefix of \(split) bytes")
            }
        }
    }

    @Test(arguments: incremental)
    func byteByByte(_ row: Incremental) {
        let outcomes = Self.feed(row.head, cuts: Array(0..<row.head.count))
        #expect(outcomes.count == row.head.count + 1)
        #expect(outcomes.dropLast().allSatisfy { $0.isIncomplete })
        #expect(outcomes.last == Self.parse(row.head))
    }

    /// A read that ends on the CR of a CRLF leaves the CR unscanned, and the LF completes it.
    @Test(arguments: incremental)
    func splitBetweenCRAndLF(_ row: Incremental) {
        let atOnce = Self.parse(row.bytes)
        for index in row.head.indices where row.head[index] == 13 {
            let prefix = Array(row.head[0...index])
            #expect(Self.parse(prefix) == .incomplete(scanned: index), "cut after the CR at \(index)")
            #expect(Self.feed(row.bytes, cuts: [index + 1]).last == atOnce, "cut after the CR at \(index)")
            #expect(Self.feed(row.bytes, cuts: [index, index + 1]).last == atOnce, "cut around the CR at \(index)")
        }
    }

    @Test func crAloneAtEachLineEnd() {
        #expect(Self.parse(Array("\r".utf8)) == .incomplete(scanned: 0))
        #expect(Self.parse(Array("\r\n".utf8)) == .incomplete(scanned: 2))
        #expect(Self.parse(Array("\r\n\r".utf8)) == .incomplete(scanned: 2))
        #expect(Self.parse(Array("\r\n\r\n".utf8)) == .incomplete(scanned: 4))
        #expect(Self.parse(Array("GET / HTTP/1.1\r".utf8)) == .incomplete(scanned: 14))
        #expect(Self.parse(Array("GET / HTTP/1.1\r\n".utf8)) == .incomplete(scanned: 16))
        #expect(Self.parse(Array("GET / HTTP/1.1\r\n\r".utf8)) == .incomplete(scanned: 16))
        #expect(Self.parse(Array("GET / HTTP/1.1\r\n\r".utf8), from: 16) == .incomplete(scanned: 16))
        #expect(
            Self.parse(Array("GET / HTTP/1.1\r\n\r\n".utf8), from: 16)
                == Self.parse(Array("GET / HTTP/1.1\r\n\r\n".utf8)))
        #expect(Self.parse([]) == .incomplete(scanned: 0))
    }

    /// Random read sizes, seeded.
    @Test(arguments: incremental)
    func randomChunks(_ row: Incremental) {
        var random = SplitMix64(seed: 0x5EED_0000 + UInt64(row.head.count))
        let atOnce = Self.parse(row.bytes)
        for _ in 0..<200 {
            var cuts: [Int] = []
            var size = 0
            while true {
                size += Int.random(in: 0...7, using: &random)
                guard size < row.bytes.count else { break }
                cuts.append(size)
            }
            let outcomes = Self.feed(row.bytes, cuts: cuts)
            #expect(outcomes.last == atOnce, "cuts \(cuts)")
        }
    }

    // MARK: Random bytes

    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Pieces random strings are made of: separators, line ends, name and value material, and
    /// bytes that must never get through.
    static let pieces: [[UInt8]] =
        [
            "\r", "\n", "\r\n", "\r\n", "\r\n\r\n", ":", ": ", " ", "  ", "\t", "a", "Z", "0", "5", "/", "?", "%",
            "GET", "HEAD", " / ", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "Host", "Connection", "close", "keep-alive",
            "Content-Length", "Transfer-Encoding", "chunked", "If-None-Match", ",", "\"",
        ].map { Array($0.utf8) } + [[0x00], [0x01], [0x7F], [0x80], [0xC3, 0xA9], [0xFF]]

    static func randomBytes(_ count: Int, seed: UInt64) -> [[UInt8]] {
        var random = SplitMix64(seed: seed)
        let requestLine = Array("GET / HTTP/1.1\r\n".utf8)
        return (0..<count).map { _ in
            var bytes: [UInt8] = Bool.random(using: &random) ? requestLine : []
            for _ in 0..<Int.random(in: 0...24, using: &random) {
                // Mostly whole pieces, sometimes raw bytes.
                if Int.random(in: 0..<8, using: &random) == 0 {
                    bytes.append(UInt8.random(in: 0...255, using: &random))
                } else {
                    bytes += pieces.randomElement(using: &random) ?? []
                }
            }
            if Bool.random(using: &random) { bytes += [13, 10, 13, 10] }
            return bytes
        }
    }

    static let randomInputs = randomBytes(4000, seed: 0xDEC0DE)

    @Test func randomBytesNeverCrashAndCompleteHeadsAreBounded() {
        var tally = (complete: 0, incomplete: 0, invalid: 0)
        for bytes in Self.randomInputs {
            switch Self.parse(bytes) {
            case .complete(_, let length):
                tally.complete += 1
                #expect(length >= 4 && length <= bytes.count, "\(Self.escaped(bytes))")
                #expect(
                    length >= 4 && length <= bytes.count && Array(bytes[(length - 4)..<length]) == Self.crlfcrlf,
                    "\(Self.escaped(bytes)) → \(length)")
            case .incomplete(let scanned):
                tally.incomplete += 1
                #expect(scanned >= 0 && scanned <= bytes.count, "\(Self.escaped(bytes))")
                // Past the empty lines that are skipped, there is no empty line ending a head.
                var start = 0
                while start + 1 < bytes.count && bytes[start] == 13 && bytes[start + 1] == 10 { start += 2 }
                #expect(!bytes[start...].contains(Self.crlfcrlf), "head missed in \(Self.escaped(bytes))")
            case .invalid(let status, _):
                tally.invalid += 1
                #expect(status == 400 || status == 505, "\(Self.escaped(bytes))")
            }
        }
        // The generator exercises every outcome.
        #expect(tally.complete > 100 && tally.incomplete > 100 && tally.invalid > 100, "\(tally)")
    }

    /// RFC 9112 §2.2: a head that is accepted has no bare CR and no bare LF anywhere.
    @Test func acceptedRandomHeadsHaveOnlyCRLFLineEnds() {
        var accepted: [String] = []
        for bytes in Self.randomInputs {
            guard case .complete(_, let length) = Self.parse(bytes) else { continue }
            let head = Array(bytes[0..<min(length, bytes.count)])
            let bare = head.indices.first { index in
                (head[index] == 13 && (index + 1 == head.count || head[index + 1] != 10))
                    || (head[index] == 10 && (index == 0 || head[index - 1] != 13))
            }
            if let bare {
                accepted.append("bare \(head[bare] == 13 ? "CR" : "LF") at \(bare) in \(Self.escaped(head))")
            }
        }
        let acceptedCount = accepted.count
        let examples = accepted.prefix(3).joined(separator: "\n")
        #expect(acceptedCount == 0, "heads accepted with a bare CR or LF, e.g.\n\(examples)")
    }

    /// Byte by byte, every random string ends the same way as in one call.
    @Test func randomBytesParseTheSameByteByByte() {
        for bytes in Self.randomInputs {
            let atOnce = Self.parse(bytes)
            let last = Self.feed(bytes, cuts: Array(0..<bytes.count)).last
            switch atOnce {
            case .invalid(let status, _):
                #expect(last?.status == status, "\(Self.escaped(bytes)): \(atOnce) vs \(String(describing: last))")
            default:
                #expect(last == atOnce, "\(Self.escaped(bytes))")
            }
        }
    }
}
