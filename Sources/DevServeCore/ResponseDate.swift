import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The `Date` header value, formatted at most once a second however many responses share it.
final class ResponseDate: Sendable {
    private let cached = Mutex((second: -1, text: ""))

    var now: String {
        let second = Int(time(nil))
        return cached.withLock { cached in
            if cached.second != second { cached = (second, HTTPDate.format(second)) }
            return cached.text
        }
    }
}
