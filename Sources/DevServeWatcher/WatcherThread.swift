import DevServeSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The one thread that calls libinotifytools: a pthread, so `stop()` can join it.
struct WatcherThread: Sendable {
    private let thread: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread; errno when the thread cannot be created.
    static func start(_ body: @escaping @Sendable () -> Void) -> Result<WatcherThread, Errno> {
        let box = Unmanaged.passRetained(Body(body))
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                guard let argument else { return nil }
                Unmanaged<Body>.fromOpaque(argument).takeRetainedValue().run()
                return nil
            }, box.toOpaque())
        guard result == 0 else {
            box.release()
            return .failure(Errno(result))
        }
        return .success(WatcherThread(thread: thread))
    }

    /// True on the watcher thread itself (a callback that calls `stop()`).
    var isCurrent: Bool { pthread_equal(pthread_self(), thread) != 0 }

    func join() {
        _ = pthread_join(thread, nil)
    }

    func detach() {
        _ = pthread_detach(thread)
    }
}

/// How `stop()` reaches the watcher thread: a flag, and a byte in a pipe that wakes its poll(2)
/// (also written, without the flag, when a served file is to be digested).
final class StopSignal: Sendable {
    let readDescriptor: Int32
    private let writeDescriptor: Int32
    private let requested = Mutex(false)

    /// errno when no pipe can be made (the process is out of descriptors).
    static func make() -> Result<StopSignal, Errno> {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return .failure(Errno(errno)) }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)
        }
        return .success(StopSignal(read: descriptors[0], write: descriptors[1]))
    }

    private init(read: Int32, write: Int32) {
        readDescriptor = read
        writeDescriptor = write
    }

    var isRequested: Bool { requested.withLock { $0 } }

    func request() {
        requested.withLock { $0 = true }
        wake()
    }

    /// Wakes the thread's poll(2) without asking it to stop (files served to digest).
    func wake() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    /// Empties the pipe once woken, so poll(2) waits again.
    func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while buffer.withUnsafeMutableBytes({ read(readDescriptor, $0.baseAddress, $0.count) }) > 0 {}
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }
}
