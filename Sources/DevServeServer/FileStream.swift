import DevServeSystem
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Sends a file's bytes where sendfile cannot be used (TLS, HTTP/2): one chunk is read with
/// pread and written, and the next is read only once that write is done, so a download holds one
/// chunk of memory however large the file, and a client that stops reading stops the reads.
/// Owns the descriptor and closes it when done, failed or abandoned.
final class FileStream {
    static let chunkSize = 256 * 1024

    private var descriptor: CInt
    private var offset: Int
    private var remaining: Int
    private let eventLoop: any EventLoop
    private let allocator: ByteBufferAllocator
    private let write: (ByteBuffer) -> EventLoopFuture<Void>
    private let finished: (_ complete: Bool, _ sent: Int) -> Void
    /// Bytes whose writes completed.
    private var sent = 0

    /// `write` sends one chunk and completes once it is written (or failed); `finished(true, _)`
    /// runs after the last chunk, `finished(false, _)` when a read or write failed (the response
    /// is then cut short, and the caller must end the connection or stream); both say how many
    /// bytes were written.
    init(
        descriptor: CInt, offset: Int, length: Int, channel: any Channel,
        write: @escaping (ByteBuffer) -> EventLoopFuture<Void>,
        finished: @escaping (_ complete: Bool, _ sent: Int) -> Void
    ) {
        self.descriptor = descriptor
        self.offset = offset
        self.remaining = length
        self.eventLoop = channel.eventLoop
        self.allocator = channel.allocator
        self.write = write
        self.finished = finished
    }

    deinit {
        if descriptor >= 0 { _ = close(descriptor) }
    }

    func start() {
        next()
    }

    private func next() {
        guard remaining > 0 else { return finish(true) }
        let count = min(Self.chunkSize, remaining)
        var chunk = allocator.buffer(capacity: count)
        let descriptor = descriptor
        let offset = offset
        let read = systemCall("pread") { () -> Int in
            var result = 0
            _ = chunk.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { buffer in
                result = pread(descriptor, buffer.baseAddress, count, off_t(offset))
                return max(0, result)  // what was written into the buffer; errno stays for systemCall
            }
            return result
        }
        guard case .success(let got) = read, got > 0 else {
            // The file shrank or failed under us: the promised length cannot be met.
            return finish(false)
        }
        self.offset += got
        remaining -= got
        write(chunk).assumeIsolated().whenComplete { [self] result in
            guard case .success = result else { return finish(false) }
            sent += got
            // Through the event loop, so a run of writes completed at once does not nest.
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            eventLoop.execute { bound.value.next() }
        }
    }

    private func finish(_ complete: Bool) {
        guard descriptor >= 0 else { return }
        _ = close(descriptor)
        descriptor = -1
        finished(complete, sent)
    }
}

@available(*, unavailable)
extension FileStream: Sendable {}
