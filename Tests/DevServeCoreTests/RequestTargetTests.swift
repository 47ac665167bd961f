import Testing

@testable import DevServeHTTP
@testable import DevServeServer
@testable import DevServeSite

/// The path resolver as tables: every row is a raw request target and exactly what it must
/// become (segments, trailing slash, query) or exactly why it is refused. The traversal forms
/// follow the ones Go's net/http file server and Caddy's SanitizedPathJoin are tested against.
@Suite struct RequestTargetTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        var target: String
        var segments: [String]
        var trailingSlash: Bool
        var query: String?

        init(_ target: String, _ segments: [String], slash trailingSlash: Bool = false, query: String? = nil) {
            self.target = target
            self.segments = segments
            self.trailingSlash = trailingSlash
            self.query = query
        }

        var testDescription: String { target }
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        var target: String
        var error: TargetError

        init(_ target: String, _ error: TargetError) {
            self.target = target
            self.error = error
        }

        var testDescription: String { "\(target) → \(error)" }
    }

    // MARK: Accepted targets

    static let plainPaths: [Accepted] = [
        Accepted("/", [], slash: true),
        Accepted("/index.html", ["index.html"]),
        Accepted("/a/b/c.txt", ["a", "b", "c.txt"]),
        Accepted("/a/", ["a"], slash: true),
        Accepted("/a/b/", ["a", "b"], slash: true),
        // Empty segments collapse: `//` never reaches the file system as an absolute path.
        Accepted("//", [], slash: true),
        Accepted("///", [], slash: true),
        Accepted("//etc/passwd", ["etc", "passwd"]),
        Accepted("/a//b", ["a", "b"]),
        Accepted("/a//", ["a"], slash: true),
        // Dots inside a name are just a name (Go: "/file/a.." is served).
        Accepted("/file/a..", ["file", "a.."]),
        Accepted("/a..b", ["a..b"]),
        Accepted("/...", ["..."]),
        Accepted("/..../x", ["....", "x"]),
        Accepted("/..;/x", ["..;", "x"]),
        Accepted("/.well-known/security.txt", [".well-known", "security.txt"]),
    ]

    static let dotSegments: [Accepted] = [
        // `..` removes the previous segment (Caddy: "/foo/../bar" → bar, "/a/b/../../c" → c).
        Accepted("/a/../b", ["b"]),
        Accepted("/foo/../bar", ["bar"]),
        Accepted("/a/b/../../c", ["c"]),
        Accepted("/a/b/../c/./d", ["a", "c", "d"]),
        Accepted("/./a", ["a"]),
        Accepted("/a/./b/.", ["a", "b"], slash: true),
        Accepted("/a/.", ["a"], slash: true),
        Accepted("/.", [], slash: true),
        // A trailing `..` names the parent folder, which stays under the root.
        Accepted("/file/a/..", ["file"], slash: true),
        Accepted("/a/..", [], slash: true),
        Accepted("/a/../", [], slash: true),
        // Encoded dots decode to dot segments and resolve the same way.
        Accepted("/a/%2e%2e/b", ["b"]),
        Accepted("/a/%2E%2e/b", ["b"]),
        Accepted("/a/.%2e/b", ["b"]),
        Accepted("/a/%2e./b", ["b"]),
        Accepted("/a/%2e/b", ["a", "b"]),
        Accepted("/a/%2e%2e", [], slash: true),
        Accepted("/a/b/%2E", ["a", "b"], slash: true),
        Accepted("/a/b/.%2E", ["a"], slash: true),
        // `/.env/.` is `.env`: the resolver keeps it (the responder hides it).
        Accepted("/.env/.", [".env"], slash: true),
        Accepted("/.env", [".env"]),
        Accepted("/.git/config", [".git", "config"]),
        Accepted("/.well-known/../.env", [".env"]),
    ]

    static let decoding: [Accepted] = [
        // Decoded once: a double-encoded dot or slash stays a literal `%2e` / `%2f` in a name.
        Accepted("/%252e%252e", ["%2e%2e"]),
        Accepted("/%252e%252e/%252e%252e/etc/passwd", ["%2e%2e", "%2e%2e", "etc", "passwd"]),
        Accepted("/foo%252fbar", ["foo%2fbar"]),
        Accepted("/..%252f..%252fetc", ["..%2f..%2fetc"]),
        Accepted("/a%255cb", ["a%5cb"]),
        Accepted("/100%25", ["100%"]),
        // Unicode names, encoded in either case, and a space.
        Accepted("/%C3%A9", ["é"]),
        // U+00A0 (no-break space) is printable; U+0085 and U+009B are C1 controls.
        Accepted("/a%C2%A0b", ["a\u{A0}b"]),
        Accepted("/caf%c3%a9.html", ["café.html"]),
        Accepted("/%E6%97%A5%E6%9C%AC/%F0%9F%99%82.txt", ["日本", "🙂.txt"]),
        Accepted("/my%20file.txt", ["my file.txt"]),
        // Characters with a meaning in URLs are plain characters once decoded.
        Accepted("/a%23b", ["a#b"]),
        Accepted("/a%3fb", ["a?b"]),
        Accepted("/a%3Bb", ["a;b"]),
        Accepted("/%2e%2e%2e", ["..."]),
        Accepted("/..%2e", ["..."]),
    ]

    static let queries: [Accepted] = [
        Accepted("/a?b=c", ["a"], query: "b=c"),
        Accepted("/?", [], slash: true, query: ""),
        Accepted("/a/?x", ["a"], slash: true, query: "x"),
        Accepted("/a/.?x", ["a"], slash: true, query: "x"),
        Accepted("/a?b?c", ["a"], query: "b?c"),
        // The query is neither decoded nor resolved: it cannot name a file.
        Accepted("/a?file=../../etc/passwd", ["a"], query: "file=../../etc/passwd"),
        Accepted("/a?x=%2e%2e%2f%00%zz", ["a"], query: "x=%2e%2e%2f%00%zz"),
        Accepted("/a?p=/b\\c", ["a"], query: "p=/b\\c"),
        Accepted("/a/b/..?x", ["a"], slash: true, query: "x"),
    ]

    @Test(arguments: plainPaths + dotSegments + decoding + queries)
    func accepts(_ row: Accepted) throws {
        let target = try RequestTarget.parse(row.target)
        #expect(target.segments == row.segments)
        #expect(target.trailingSlash == row.trailingSlash)
        #expect(target.query.map(String.init) == row.query)
    }

    // MARK: Refused targets

    static let climbing: [Refused] = [
        // Go's TestServeFile_DotDot and Caddy's table: nothing climbs above the root.
        Refused("/..", .climbsAboveRoot),
        Refused("/../", .climbsAboveRoot),
        Refused("/../file", .climbsAboveRoot),
        Refused("/../foo", .climbsAboveRoot),
        Refused("/../../etc/passwd", .climbsAboveRoot),
        Refused("/a/../../b", .climbsAboveRoot),
        Refused("/a/b/../../../c", .climbsAboveRoot),
        Refused("/./../a", .climbsAboveRoot),
        Refused("//../a", .climbsAboveRoot),
        Refused("/../../../../../.x/.x/.x/.x/.x/.x/etc/passwd", .climbsAboveRoot),
        Refused("/a/../..?x", .climbsAboveRoot),
        // Encoded dots, in every case mix.
        Refused("/%2e%2e", .climbsAboveRoot),
        Refused("/%2e%2e/", .climbsAboveRoot),
        Refused("/%2E%2E/etc/passwd", .climbsAboveRoot),
        Refused("/%2E%2e/", .climbsAboveRoot),
        Refused("/.%2e/x", .climbsAboveRoot),
        Refused("/%2e./x", .climbsAboveRoot),
        Refused("/a/b/%2e%2e/%2e%2e/%2e%2e/etc/passwd", .climbsAboveRoot),
    ]

    static let slashes: [Refused] = [
        // Encoded slashes would let one segment carry a path (Caddy: "/..%2fbar", "/%2e%2e%2fbar").
        Refused("/..%2fbar", .encodedSlash),
        Refused("/..%2Fbar", .encodedSlash),
        Refused("/%2e%2e%2fbar", .encodedSlash),
        Refused("/%2e%2e%2f%2e%2e%2f", .encodedSlash),
        Refused("/foo%2fbar", .encodedSlash),
        Refused("/foo%2Fbar", .encodedSlash),
        Refused("/%2f", .encodedSlash),
        Refused("/%2fetc%2fpasswd", .encodedSlash),
        // Backslashes, raw and encoded (Go: "/..\\foo", "/file/a\\..").
        Refused("/..\\foo", .backslash),
        Refused("/file/a\\..", .backslash),
        Refused("/a\\b", .backslash),
        Refused("/..%5cwindows%5cwin.ini", .backslash),
        Refused("/..%5Cwindows", .backslash),
        Refused("/%5c", .backslash),
        Refused("/a%5cb", .backslash),
    ]

    static let badBytes: [Refused] = [
        // NUL, raw or encoded.
        Refused("/a%00", .nulByte),
        Refused("/a%00.html", .nulByte),
        Refused("/%00/../etc", .nulByte),
        // Control characters: raw ones (and a raw space) must be encoded by the client...
        Refused("/a b", .controlCharacter),
        Refused("/a\tb", .controlCharacter),
        Refused("/a\rb", .controlCharacter),
        Refused("/a\nb", .controlCharacter),
        Refused("/a\u{1}b", .controlCharacter),
        Refused("/a%C2%85b", .controlCharacter),
        Refused("/%C2%9B31m", .controlCharacter),
        Refused("/x/%c2%80", .controlCharacter),
        Refused("/a\u{1B}[31m", .controlCharacter),
        Refused("/a\u{7F}", .controlCharacter),
        // ...and so must every byte >= 0x80: UTF-8 is sent percent-encoded (RFC 3986).
        Refused("/caf\u{E9}.html", .unencodedByte),
        Refused("/a?q=\u{E9}", .unencodedByte),
        Refused("/a?x y", .controlCharacter),
        Refused("/a?x\u{0}", .controlCharacter),
        // ...and encoded ones are refused once decoded.
        Refused("/a%01b", .controlCharacter),
        Refused("/a%09", .controlCharacter),
        Refused("/a%0a", .controlCharacter),
        Refused("/a%0D%0ASet-Cookie:x", .controlCharacter),
        Refused("/a%1b%5b31m", .controlCharacter),
        Refused("/a%1F", .controlCharacter),
        Refused("/a%7f", .controlCharacter),
        // A fragment never belongs in a request target.
        Refused("/#", .fragment),
        Refused("/a#b", .fragment),
        Refused("/a?b#c", .fragment),
        Refused("/#/../../etc/passwd", .fragment),
    ]

    static let badEscapes: [Refused] = [
        Refused("/%", .badEscape),
        Refused("/a%", .badEscape),
        Refused("/%2", .badEscape),
        Refused("/a%2", .badEscape),
        Refused("/%zz", .badEscape),
        Refused("/%2g", .badEscape),
        Refused("/%g2", .badEscape),
        Refused("/%%32%65", .badEscape),
        Refused("/%-1", .badEscape),
        Refused("/% 2", .controlCharacter),
        // An escape cut short by the query.
        Refused("/%2?e", .badEscape),
        Refused("/%?x", .badEscape),
    ]

    static let badUTF8: [Refused] = [
        Refused("/%ff", .invalidUTF8),
        Refused("/%FE%FF", .invalidUTF8),
        Refused("/%80", .invalidUTF8),
        Refused("/%c3", .invalidUTF8),
        Refused("/caf%c3", .invalidUTF8),
        Refused("/%c3/x", .invalidUTF8),
        // Overlong encodings of `.` and `/` (the IIS-era traversal) are not UTF-8.
        Refused("/%c0%ae%c0%ae", .invalidUTF8),
        Refused("/%c0%ae%c0%ae/etc/passwd", .invalidUTF8),
        Refused("/%C0%AE%C0%AE/", .invalidUTF8),
        Refused("/%e0%80%ae", .invalidUTF8),
        Refused("/%e0%80%ae%e0%80%ae/x", .invalidUTF8),
        Refused("/%f0%80%80%ae", .invalidUTF8),
        Refused("/%c0%af", .invalidUTF8),
        Refused("/..%c0%af..%c0%afetc", .invalidUTF8),
        Refused("/%c1%9c", .invalidUTF8),
        // Surrogates and code points past U+10FFFF.
        Refused("/%ed%a0%80", .invalidUTF8),
        Refused("/%f4%90%80%80", .invalidUTF8),
    ]

    static let notOriginForm: [Refused] = [
        Refused("", .notOriginForm),
        Refused("*", .notOriginForm),
        Refused("a/b", .notOriginForm),
        Refused("../etc/passwd", .notOriginForm),
        Refused("%2f", .notOriginForm),
        Refused("\\a", .notOriginForm),
        Refused("http://localhost/a", .notOriginForm),
        Refused("?x", .notOriginForm),
    ]

    @Test(arguments: climbing + slashes + badBytes + badEscapes + badUTF8 + notOriginForm)
    func refuses(_ row: Refused) {
        #expect(throws: row.error) { try RequestTarget.parse(row.target) }
    }

    // MARK: Raw bytes

    struct RawRow: Sendable, CustomTestStringConvertible {
        var bytes: [UInt8]
        var expected: Result<[String], TargetError>
        var testDescription: String { bytes.map { String($0, radix: 16) }.joined(separator: " ") }
    }

    static let rawRows: [RawRow] = [
        // Raw bytes >= 0x80, UTF-8 or not, are refused as HTTP/1.1 refuses them: clients send
        // UTF-8 percent-encoded (RFC 3986), and an HTTP/2 `:path` gets the same rule.
        RawRow(bytes: Array("/café/日本.txt".utf8), expected: .failure(.unencodedByte)),
        RawRow(bytes: Array("/%C3%A9".utf8), expected: .success(["é"])),
        RawRow(bytes: [0x2F, 0xFF], expected: .failure(.unencodedByte)),
        RawRow(bytes: [0x2F, 0x80, 0x2F], expected: .failure(.unencodedByte)),
        RawRow(bytes: [0x2F, 0xC0, 0xAE, 0xC0, 0xAE, 0x2F], expected: .failure(.unencodedByte)),
        RawRow(bytes: [0x2F, 0xC3, 0x25, 0x41, 0x39], expected: .failure(.unencodedByte)),
        // Escaped bytes that are not UTF-8, or overlong dots.
        RawRow(bytes: Array("/%FF".utf8), expected: .failure(.invalidUTF8)),
        RawRow(bytes: Array("/%C0%AE%C0%AE/".utf8), expected: .failure(.invalidUTF8)),
        RawRow(bytes: Array("/%E0%80%AE".utf8), expected: .failure(.invalidUTF8)),
        RawRow(bytes: Array("/%C3".utf8), expected: .failure(.invalidUTF8)),
        // Raw NUL, control bytes and DEL.
        RawRow(bytes: [0x2F, 0x61, 0x00], expected: .failure(.controlCharacter)),
        RawRow(bytes: [0x2F, 0x00, 0x2E, 0x2E], expected: .failure(.controlCharacter)),
        RawRow(bytes: [0x2F, 0x1F], expected: .failure(.controlCharacter)),
        RawRow(bytes: [0x2F, 0x7F], expected: .failure(.controlCharacter)),
        RawRow(bytes: [], expected: .failure(.notOriginForm)),
    ]

    @Test(arguments: rawRows)
    func rawBytes(_ row: RawRow) {
        let outcome = Result { () throws(TargetError) -> [String] in try RequestTarget.parse(utf8: row.bytes).segments }
        #expect(outcome == row.expected)
    }

    // MARK: The decoded path

    @Test(arguments: [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b/"),
        ("//a//b//", "/a/b/"),
        ("/a/../b/./c/", "/b/c/"),
        ("/a/..", "/"),
        ("/caf%C3%A9/x%20y", "/café/x y"),
        ("/a?q=1", "/a"),
    ])
    func decodedPath(_ raw: String, _ path: String) throws {
        #expect(try RequestTarget.parse(raw).path == path)
    }

    /// Whatever is accepted is safe to join under a root: checked on every accepted row.
    @Test(arguments: plainPaths + dotSegments + decoding + queries)
    func acceptedSegmentsAreSafeNames(_ row: Accepted) throws {
        let target = try RequestTarget.parse(row.target)
        for segment in target.segments {
            #expect(!segment.isEmpty && segment != "." && segment != "..")
            #expect(!segment.utf8.contains { $0 < 0x20 || $0 == 0x7F || $0 == 0x2F || $0 == 0x5C })
        }
    }

    @Test func everyErrorHasAReason() {
        let all: [TargetError] = [
            .notOriginForm, .fragment, .controlCharacter, .badEscape, .invalidUTF8, .backslash, .encodedSlash,
            .nulByte, .climbsAboveRoot,
        ]
        #expect(Set(all.map(\.reason)).count == all.count)
        #expect(all.allSatisfy { !$0.reason.isEmpty })
    }
}
