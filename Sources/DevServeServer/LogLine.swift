import DevServeHTTP
import NIOCore

/// Formats what the request log prints, with control characters escaped so a crafted path
/// cannot forge log lines or drive the terminal.
public enum LogLine {
    /// `GET /path 200 1234 B 0.4 ms`
    public static func request(method: String, path: String, status: Int, bytes: Int, milliseconds: Double) -> String {
        "\(escape(method)) \(escape(path)) \(status) \(bytes) B \(formatMilliseconds(milliseconds)) ms"
    }

    /// The line for `request` answered with `response` (as sent: no body for HEAD), timed from `started` until now; `sent`
    /// is the body bytes that really went out when the answer was cut short (the client left).
    static func request(_ request: HTTPRequest, response: Response, started: NIODeadline, sent: Int? = nil) -> String {
        let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
        return Self.request(
            method: request.method.name, path: request.target, status: Int(response.status.code),
            bytes: sent ?? response.bodyLength, milliseconds: elapsed)
    }

    /// Escapes C0 controls, DEL, C1 controls and backslashes as `\xNN` / `\u{NN}` / `\\`.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar == "\\" {
                result += "\\\\"
            } else if needsEscape(scalar) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += scalar.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        // C0, DEL, C1, and the bidi overrides and isolates that reorder what a terminal shows.
        return value < 0x20 || value == 0x7F || (0x80...0x9F).contains(value) || scalar == "\\"
            || (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
    }

    static func formatMilliseconds(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
