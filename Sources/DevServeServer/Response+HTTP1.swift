import DevServeHTTP
import NIOCore
import NIOHTTP1

extension Response {
    /// Writes the status line and header block for HTTP/1.1: the fixed headers, then `date`
    /// (a whole `Date: …` line), the response's own headers, and a `Connection` header when
    /// `connection` is given.
    func writeHTTP1Head(into buffer: inout ByteBuffer, date: String, connection: String?) {
        buffer.writeString(Self.statusLine(status))
        if let fixedHeaders { buffer.writeImmutableBuffer(fixedHeaders.http1) }
        buffer.writeString(date)
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if let connection {
            buffer.writeStaticString("Connection: ")
            buffer.writeString(connection)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    private static let okLine = "HTTP/1.1 200 OK\r\n"

    private static let commonStatusLines: [Int: String] = {
        var lines: [Int: String] = [:]
        for code in [200, 204, 206, 301, 304, 400, 403, 404, 405, 408, 412, 416, 431, 500, 505] {
            let status = HTTPResponseStatus(statusCode: code)
            lines[code] = "HTTP/1.1 \(code) \(status.reasonPhrase)\r\n"
        }
        return lines
    }()

    static func statusLine(_ status: HTTPResponseStatus) -> String {
        let code = Int(status.code)
        if code == 200 { return okLine }  // most answers: no dictionary lookup
        return commonStatusLines[code] ?? "HTTP/1.1 \(code) \(status.reasonPhrase)\r\n"
    }
}
