import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Log lines as a person reads them in a terminal: `18:04:12 GET / 200 1520 B 0.3 ms`.
/// Info goes to stdout; warnings and errors to stderr with their level.
struct PlainLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let clock = "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        var line = clock + " "
        if event.level >= .warning { line += "\(event.level): " }
        line += "\(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if !merged.isEmpty {
            line += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        line += "\n"
        Console.write(line, to: event.level >= .warning ? .standardError : .standardOutput)
    }
}

/// Whole lines straight to a descriptor with one write(2), so lines from several threads never
/// interleave and nothing waits in a stdio buffer when output is a pipe.
enum Console {
    enum Stream: CInt {
        case standardOutput = 1
        case standardError = 2
    }

    static func write(_ text: String, to stream: Stream = .standardOutput) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(stream.rawValue, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
