import DevServeHTTP
import DevServeSystem

/// A strict HTTP/1.1 request-head parser over raw bytes (RFC 9112), for the one shape of request
/// a file server answers: a head without a body.
///
/// devserve takes no uploads, so it never parses a body: a request that announces one is
/// answered and the connection closed. That removes the framing ambiguities request smuggling
/// lives on, and the parser refuses the rest outright: bare LF or CR, obsolete line folding,
/// whitespace before a colon, control characters, non-ASCII in the target, Content-Length with
/// Transfer-Encoding, conflicting Content-Lengths.
enum HTTP1Parser {
    enum Outcome {
        /// No complete head yet; `scanned` bytes are known not to end it.
        case incomplete(scanned: Int)
        /// A head of `length` bytes (through its empty line).
        case complete(HTTPRequest, length: Int)
        /// Refused with this status; the connection closes after the answer.
        case invalid(status: Int, reason: String)
    }

    /// Looks for a complete head at the start of `bytes`, resuming the scan at `from`.
    static func parse(_ bytes: UnsafeRawBufferPointer, from: Int, scheme: String) -> Outcome {
        // Empty lines before the request line are ignored (RFC 9112 §2.2).
        let skip = leadingEmptyLines(bytes)
        var index = max(from, skip)
        var lineStart = max(lineStartBefore(index, in: bytes), skip)
        // The head ends at the first empty line; every LF must follow a CR.
        while index < bytes.count {
            if bytes[index] == lf {
                guard index > 0, bytes[index - 1] == cr else {
                    return .invalid(status: 400, reason: "a line ends in a bare LF")
                }
                if index - 1 == lineStart { return parseHead(bytes, start: skip, end: index + 1, scheme: scheme) }
                lineStart = index + 1
            }
            index += 1
        }
        // Resume where a CR may still be completed by an LF.
        let last = bytes.count - 1
        return .incomplete(scanned: last >= 0 && bytes[last] == cr ? last : bytes.count)
    }

    private static let cr: UInt8 = 13
    private static let lf: UInt8 = 10

    private static func lineStartBefore(_ index: Int, in bytes: UnsafeRawBufferPointer) -> Int {
        var start = min(index, bytes.count)
        while start > 0 && bytes[start - 1] != lf { start -= 1 }
        return start
    }

    /// Bytes taken by CRLF pairs at the very start.
    private static func leadingEmptyLines(_ bytes: UnsafeRawBufferPointer) -> Int {
        var index = 0
        while index + 1 < bytes.count && bytes[index] == cr && bytes[index + 1] == lf { index += 2 }
        return index
    }

    private static func parseHead(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int, scheme: String) -> Outcome {
        var position = start
        // The request line: method SP target SP version CRLF.
        guard let lineEnd = findCRLF(bytes, from: position, to: end) else {
            return .invalid(status: 400, reason: "the request line is malformed")
        }
        guard let space1 = find(UInt8(ascii: " "), bytes, from: position, to: lineEnd), space1 > position,
            let space2 = find(UInt8(ascii: " "), bytes, from: space1 + 1, to: lineEnd), space2 > space1 + 1
        else { return .invalid(status: 400, reason: "the request line is malformed") }
        for index in position..<space1 where !ASCII.isTokenByte(bytes[index]) {
            return .invalid(status: 400, reason: "the method is malformed")
        }
        for index in (space1 + 1)..<space2 where bytes[index] <= 0x20 || bytes[index] >= 0x7F {
            return .invalid(status: 400, reason: "the request target contains a byte that must be percent-encoded")
        }
        let version = UnsafeRawBufferPointer(rebasing: bytes[(space2 + 1)..<lineEnd])
        guard version.count == 8, version.starts(with: "HTTP/".utf8), version[6] == UInt8(ascii: "."),
            isDigit(version[5]), isDigit(version[7])
        else { return .invalid(status: 400, reason: "the HTTP version is malformed") }
        guard version[5] == UInt8(ascii: "1") else {
            return .invalid(status: 505, reason: "only HTTP/1.0 and HTTP/1.1 are spoken on this port")
        }
        var request = HTTPRequest(
            method: .init(string(bytes, position, space1)), target: string(bytes, space1 + 1, space2),
            versionMinor: version[7] == UInt8(ascii: "0") ? 0 : 1, scheme: scheme)

        // Header fields.
        position = lineEnd + 2
        var contentLength: Int?
        var transferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        while position < end - 2 {
            guard let fieldEnd = findCRLF(bytes, from: position, to: end) else {
                return .invalid(status: 400, reason: "a line contains a bare CR")
            }
            let first = bytes[position]
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                return .invalid(status: 400, reason: "obsolete line folding is not accepted")
            }
            guard let colon = find(UInt8(ascii: ":"), bytes, from: position, to: fieldEnd), colon > position else {
                return .invalid(status: 400, reason: "a header line has no name")
            }
            for index in position..<colon where !ASCII.isTokenByte(bytes[index]) {
                return .invalid(status: 400, reason: "a header name is malformed")
            }
            var valueStart = colon + 1
            var valueEnd = fieldEnd
            while valueStart < valueEnd && isWhitespace(bytes[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
            for index in valueStart..<valueEnd {
                let byte = bytes[index]
                if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                    return .invalid(status: 400, reason: "a header value contains a control character")
                }
            }
            let name = UnsafeRawBufferPointer(rebasing: bytes[position..<colon])
            switch KnownHeader(name) {
            case .contentLength?:
                guard let length = parseLength(bytes, valueStart, valueEnd) else {
                    return .invalid(status: 400, reason: "Content-Length is malformed")
                }
                if let contentLength, contentLength != length {
                    return .invalid(status: 400, reason: "conflicting Content-Length headers")
                }
                contentLength = length
            case .transferEncoding?:
                transferEncoding = true
            case .connection?:
                for token in string(bytes, valueStart, valueEnd).lowercased().split(separator: ",") {
                    let option = token.trimmingSpaces()
                    if option == "close" { connectionClose = true }
                    if option == "keep-alive" { connectionKeepAlive = true }
                }
            case .field(let field)?:
                request.record(field, value: string(bytes, valueStart, valueEnd))
            case nil:
                break
            }
            position = fieldEnd + 2
        }
        if transferEncoding && contentLength != nil {
            return .invalid(status: 400, reason: "Content-Length and Transfer-Encoding together are ambiguous")
        }
        request.hasBody = transferEncoding || (contentLength ?? 0) > 0
        request.keepAlive = request.versionMinor >= 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        return .complete(request, length: end)
    }

    /// Header names devserve looks at, matched case-insensitively without allocating.
    private enum KnownHeader {
        case contentLength, transferEncoding, connection
        case field(HTTPRequest.Field)

        init?(_ name: UnsafeRawBufferPointer) {
            if Self.equals(name, "content-length") {
                self = .contentLength
            } else if Self.equals(name, "transfer-encoding") {
                self = .transferEncoding
            } else if Self.equals(name, "connection") {
                self = .connection
            } else if let field = Self.fields.first(where: { Self.equals(name, $0.name) }) {
                self = .field(field.field)
            } else {
                return nil
            }
        }

        /// `HTTPRequest.Field`'s table with each name's bytes, made once (`allCases` makes a new
        /// array on every call, and `name` is asked of every header line).
        private static let fields = HTTPRequest.Field.allCases.map { (field: $0, name: $0.name) }

        private static func equals(_ name: UnsafeRawBufferPointer, _ lowercased: String) -> Bool {
            guard name.count == lowercased.utf8.count else { return false }
            return zip(name, lowercased.utf8).allSatisfy { pair in
                let byte = pair.0
                let folded = ASCII.lowercased(byte)
                return folded == pair.1
            }
        }
    }

    private static func parseLength(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        guard start < end, end - start <= 18 else { return nil }
        var value = 0
        for index in start..<end {
            guard isDigit(bytes[index]) else { return nil }
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
        }
        return value
    }

    private static func findCRLF(_ bytes: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int? {
        var index = from
        while index + 1 < end {
            if bytes[index] == cr {
                return bytes[index + 1] == lf ? index : nil  // a bare CR is malformed
            }
            index += 1
        }
        return nil
    }

    private static func find(_ byte: UInt8, _ bytes: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int? {
        var index = from
        while index < end {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    private static func string(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isWhitespace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == 0x09 }

}
