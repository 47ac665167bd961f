// The raw request target, decoded once and normalised into path segments.
//
// This file is pure Swift (no Foundation, no NIO) so the fuzz target can compile it alone.
// Every rule that refuses a target lives here, in the order it is checked, so the policy reads
// top to bottom: what the bytes may contain, how they decode, and how dot segments resolve.

/// A request path that is safe to join under a root: no empty, `.` or `..` segments, no slashes,
/// backslashes, NUL or control characters inside a segment, valid UTF-8.
public struct RequestTarget: Equatable, Sendable {
    /// Decoded path segments below the root, in order.
    public var segments: [String]
    /// Whether the decoded path ended with `/` (a folder was asked for).
    public var trailingSlash: Bool
    /// The raw query string, without the `?`, if any.
    public var query: Substring?

    /// The decoded path, always starting with `/`.
    public var path: String {
        var result = "/" + segments.joined(separator: "/")
        if trailingSlash && !segments.isEmpty { result += "/" }
        return result
    }

    public init(segments: [String], trailingSlash: Bool, query: Substring? = nil) {
        self.segments = segments
        self.trailingSlash = trailingSlash
        self.query = query
    }
}

/// Why a request target was refused. Every case answers 400 Bad Request.
public enum TargetError: Error, Equatable, Sendable {
    case notOriginForm
    case fragment
    case controlCharacter
    case unencodedByte
    case badEscape
    case invalidUTF8
    case backslash
    case encodedSlash
    case nulByte
    case climbsAboveRoot

    /// A short reason for the log and the error page.
    public var reason: String {
        switch self {
        case .notOriginForm: return "the request target must start with /"
        case .fragment: return "the request target contains #"
        case .controlCharacter: return "the request target contains a control character"
        case .unencodedByte: return "the request target contains a byte that must be percent-encoded"
        case .badEscape: return "the request target has a malformed %-escape"
        case .invalidUTF8: return "the request path is not valid UTF-8"
        case .backslash: return "the request path contains a backslash"
        case .encodedSlash: return "the request path contains an encoded slash"
        case .nulByte: return "the request path contains a NUL byte"
        case .climbsAboveRoot: return "the request path climbs above the root"
        }
    }
}

extension RequestTarget {
    /// Parses an origin-form request target (`/path?query`).
    ///
    /// Rules, in order: the target starts with `/`; no `#`, no raw space, control or non-ASCII
    /// bytes (clients must percent-encode them); the path is percent-decoded exactly once; a decoded
    /// `/` or `\` (an encoded slash), NUL, control character or invalid UTF-8 is refused; `.` and
    /// empty segments are dropped; `..` removes the previous segment and is refused when there is
    /// none (it would climb above the root).
    public static func parse(_ raw: some StringProtocol) throws(TargetError) -> RequestTarget {
        try parse(utf8: Array(raw.utf8))
    }

    public static func parse(utf8 raw: [UInt8]) throws(TargetError) -> RequestTarget {
        guard raw.first == UInt8(ascii: "/") else { throw .notOriginForm }
        var pathEnd = raw.count
        for (index, byte) in raw.enumerated() {
            if byte == UInt8(ascii: "#") { throw .fragment }
            if byte < 0x21 || byte == 0x7F { throw .controlCharacter }
            // RFC 3986: only ASCII appears raw; UTF-8 is percent-encoded. The HTTP/1.1 parser
            // refuses such a target first, an HTTP/2 `:path` is refused here.
            if byte >= 0x80 { throw .unencodedByte }
            if byte == UInt8(ascii: "?") && pathEnd == raw.count { pathEnd = index }
        }
        var query: Substring?
        if pathEnd < raw.count {
            query = Substring(decoding: raw[(pathEnd + 1)...], as: UTF8.self)
        }

        var segments: [String] = []
        var current: [UInt8] = []
        var index = 0
        var endedWithSlash = false

        // Whether the last segment finished was `.` or `..` (decoded): it names a folder.
        var lastWasDotSegment = false

        func finishSegment() throws(TargetError) {
            defer { current.removeAll(keepingCapacity: true) }
            lastWasDotSegment = false
            if current.isEmpty { return }
            if current.count == 1 && current[0] == UInt8(ascii: ".") {
                lastWasDotSegment = true
                return
            }
            if current.count == 2 && current[0] == UInt8(ascii: ".") && current[1] == UInt8(ascii: ".") {
                if segments.isEmpty { throw .climbsAboveRoot }
                segments.removeLast()
                lastWasDotSegment = true
                return
            }
            guard let segment = String(validating: current, as: UTF8.self) else { throw .invalidUTF8 }
            // C1 controls (U+0080–U+009F) are two bytes in UTF-8: 0xC2 then 0x80...0x9F.
            for index in current.indices.dropLast()
            where current[index] == 0xC2 && (0x80...0x9F).contains(current[index + 1]) {
                throw .controlCharacter
            }
            segments.append(segment)
        }

        while index < pathEnd {
            let byte = raw[index]
            if byte == UInt8(ascii: "/") {
                try finishSegment()
                endedWithSlash = true
                index += 1
                continue
            }
            endedWithSlash = false
            if byte == UInt8(ascii: "\\") { throw .backslash }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < pathEnd, let high = hexValue(raw[index + 1]), let low = hexValue(raw[index + 2])
                else { throw .badEscape }
                let decoded = high << 4 | low
                switch decoded {
                case 0: throw .nulByte
                case UInt8(ascii: "/"): throw .encodedSlash
                case UInt8(ascii: "\\"): throw .backslash
                case 0x01...0x1F, 0x7F: throw .controlCharacter
                default: current.append(decoded)
                }
                index += 3
                continue
            }
            current.append(byte)
            index += 1
        }
        try finishSegment()
        // A trailing `.` or `..` names a folder, as a browser would resolve it.
        return RequestTarget(
            segments: segments, trailingSlash: endedWithSlash || lastWasDotSegment, query: query)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
