import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// A response the responder decided on, before it is written to a connection.
public struct Response {
    public var status: HTTPResponseStatus
    /// Headers made for this response.
    public var headers: HTTPHeaders
    /// Headers shared by every response of one cached file, formatted once; sent before `headers`.
    public var fixedHeaders: HeaderBlock?
    public var body: ResponseBody

    public init(
        status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), fixedHeaders: HeaderBlock? = nil,
        body: ResponseBody = .empty
    ) {
        self.status = status
        self.headers = headers
        self.fixedHeaders = fixedHeaders
        self.body = body
    }

    /// The response as it goes on the wire for `request`, decided here for both connections: a
    /// HEAD answer keeps every header (Content-Length included) and sends no body, and the
    /// descriptor of a file body closes as its slice goes.
    package func sent(for request: HTTPRequest) -> Response {
        guard request.method == .head else { return self }
        var head = self
        head.body = .empty
        return head
    }

    /// Bytes the body will send (what Content-Length says).
    public var bodyLength: Int {
        switch body {
        case .empty: return 0
        case .bytes(let buffer): return buffer.readableBytes
        case .file(let slice): return slice.length
        }
    }
}

public enum ResponseBody {
    case empty
    case bytes(ByteBuffer)
    /// A region of an open file, streamed (sendfile on plain HTTP).
    case file(FileSlice)
}

/// An open file descriptor and the bytes of it to send. Closes the descriptor when released,
/// unless a writer took it over.
public final class FileSlice {
    private var descriptor: CInt
    public let offset: Int
    public let length: Int

    package init(descriptor: CInt, offset: Int, length: Int) {
        self.descriptor = descriptor
        self.offset = offset
        self.length = length
    }

    /// Hands the descriptor to the caller, who must close it.
    public func takeDescriptor() -> CInt? {
        guard descriptor >= 0 else { return nil }
        defer { descriptor = -1 }
        return descriptor
    }

    deinit {
        if descriptor >= 0 { _ = close(descriptor) }
    }
}

@available(*, unavailable)
extension FileSlice: Sendable {}

/// A header block shared by many responses, with its HTTP/1.1 wire form made once.
public final class HeaderBlock: Sendable {
    /// `Name: value\r\n` for every field.
    package let http1: ByteBuffer
    /// The fields with lower-cased names, as HTTP/2 sends them.
    package let http2: [(name: String, value: String)]

    package init(_ fields: HTTPHeaders) {
        self.http2 = fields.map { (name: $0.name.lowercased(), value: $0.value) }
        var buffer = ByteBuffer()
        for (name, value) in fields {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        self.http1 = buffer
    }
}
