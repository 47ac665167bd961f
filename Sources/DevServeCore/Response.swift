import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// A response the responder decided on, before it is written to a connection.
public struct Response {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ResponseBody

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: ResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
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

    init(descriptor: CInt, offset: Int, length: Int) {
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
        if descriptor >= 0 { POSIX.close(descriptor) }
    }
}

@available(*, unavailable)
extension FileSlice: Sendable {}
