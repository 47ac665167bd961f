#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An errno value, and the system call that returned it when one did: the one error type every
/// module's system calls fail with. Two values are equal when their codes are.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var code: CInt
    /// The call that failed (`open`, `read`), or empty for a value made by hand.
    public var call: StaticString

    public init(_ code: CInt, call: StaticString = "") {
        self.code = code
        self.call = call
    }

    /// The thread's errno now, for a call that just failed.
    public static func current(_ call: StaticString = "") -> Errno { Errno(errno, call: call) }

    /// The system's message (`No such file or directory`).
    public var description: String { String(cString: strerror(code)) }
    public var isPermissionDenied: Bool { code == EACCES || code == EPERM }
    public static let notADirectory = Errno(ENOTDIR)

    public static func == (left: Errno, right: Errno) -> Bool { left.code == right.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

/// Runs a system call that returns a negative value with errno set when it fails: again while a
/// signal interrupts it (EINTR), then its result, or errno and the call's name. The model is
/// NIOPosix's `syscall(blocking:where:_:)`.
@inlinable
public func systemCall<Result: SignedInteger>(
    _ call: StaticString, _ body: () -> Result
) -> Swift.Result<Result, Errno> {
    while true {
        let result = body()
        if result >= 0 { return .success(result) }
        let code = errno
        if code != EINTR { return .failure(Errno(code, call: call)) }
    }
}
