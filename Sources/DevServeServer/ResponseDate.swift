import DevServeHTTP
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The `Date` header, formatted at most once a second however many responses share it.
final class ResponseDate: Sendable {
    private let cached = Mutex((second: -1, text: "", line: ""))

    /// The whole header line, `Date: …\r\n`.
    var headerLine: String { current.line }

    /// The value alone (HTTP/2 header blocks).
    var value: String { current.text }

    private var current: (second: Int, text: String, line: String) {
        let second = Int(time(nil))
        return cached.withLock { cached in
            if cached.second != second {
                let text = HTTPDate.format(second)
                cached = (second, text, "Date: " + text + "\r\n")
            }
            return cached
        }
    }
}
