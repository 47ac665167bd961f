/// What the server tells every connection: its limits, whether it logs each request, and the
/// `Date` header all its answers share.
struct ConnectionSettings: Sendable {
    var limits: ServerConfiguration.Limits
    var logRequests: Bool
    let date: ResponseDate

    init(limits: ServerConfiguration.Limits, logRequests: Bool, date: ResponseDate = ResponseDate()) {
        self.limits = limits
        self.logRequests = logRequests
        self.date = date
    }

    /// The settings `configuration` gives.
    init(_ configuration: ServerConfiguration) {
        self.init(limits: configuration.limits, logRequests: configuration.logRequests)
    }
}
