import DevServeHTTP

/// What the server tells every connection: its limits, whether it logs each request, and the
/// `Date` header all its answers share.
public struct ConnectionSettings: Sendable {
    public var limits: ConnectionLimits
    public var logRequests: Bool
    let date: ResponseDate

    public init(limits: ConnectionLimits, logRequests: Bool) {
        self.limits = limits
        self.logRequests = logRequests
        self.date = ResponseDate()
    }
}
