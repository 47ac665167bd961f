import DevServeSystem

/// What a `Range` header asks of a representation of `size` bytes (RFC 9110 §14).
///
/// devserve answers single ranges only. A header naming several ranges (or more than
/// `maximumRanges`, or overlapping ones) gets the whole file, which RFC 9110 allows; a header
/// that does not parse is ignored.
public enum RangeDecision: Equatable, Sendable {
    /// Serve the whole representation with 200.
    case whole
    /// Serve these bytes with 206 and `Content-Range: bytes first-last/size`.
    case partial(first: Int, last: Int)
    /// 416 with `Content-Range: bytes */size`.
    case unsatisfiable

    public static let maximumRanges = 8

    public init(header: String?, size: Int) {
        guard let header else {
            self = .whole
            return
        }
        guard let equals = header.firstIndex(of: "="),
            header[..<equals].trimmingSpaces().lowercased() == "bytes"
        else {
            self = .whole
            return
        }
        let specs = header[header.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false)
        guard specs.count <= Self.maximumRanges else {
            self = .whole
            return
        }
        var ranges: [(Int, Int)] = []
        var sawSyntaxError = false
        for spec in specs {
            switch Self.parseSpec(spec.trimmingSpaces(), size: size) {
            case .invalid: sawSyntaxError = true
            case .unsatisfiable: continue
            case .range(let first, let last): ranges.append((first, last))
            }
        }
        if sawSyntaxError {
            self = .whole
        } else if ranges.isEmpty {
            self = .unsatisfiable
        } else if specs.count == 1, let only = ranges.first {
            self = .partial(first: only.0, last: only.1)
        } else {
            // Several ranges, overlapping or not: the whole file.
            self = .whole
        }
    }

    private enum Spec {
        case invalid, unsatisfiable
        case range(Int, Int)
    }

    private static func parseSpec(_ spec: Substring, size: Int) -> Spec {
        guard let dash = spec.firstIndex(of: "-") else { return .invalid }
        let startText = spec[..<dash]
        let endText = spec[spec.index(after: dash)...]
        if startText.isEmpty {
            // Suffix range: the last N bytes.
            guard let suffix = parseDigits(endText) else { return .invalid }
            if suffix == 0 || size == 0 { return .unsatisfiable }
            return .range(max(0, size - suffix), size - 1)
        }
        guard let first = parseDigits(startText) else { return .invalid }
        var last = size - 1
        if !endText.isEmpty {
            guard let end = parseDigits(endText), end >= first else { return .invalid }
            last = min(end, size - 1)
        }
        if first >= size { return .unsatisfiable }
        return .range(first, last)
    }

    /// Digits only (no sign, no spaces); saturates instead of overflowing.
    private static func parseDigits(_ text: Substring) -> Int? {
        guard !text.isEmpty else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            value = (o1 || o2) ? Int.max : sum
        }
        return value
    }
}
