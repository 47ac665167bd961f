import DevServeSystem

/// The validators of one representation (an ETag and a modification time) and the conditional
/// request rules of RFC 9110 §13 evaluated against them, in the order the RFC gives.
public struct Validators: Equatable, Sendable {
    /// A strong entity tag, quotes included.
    public var etag: String
    /// Last modification, whole seconds since the epoch.
    public var lastModified: Int

    public init(etag: String, lastModified: Int) {
        self.etag = etag
        self.lastModified = lastModified
    }

    /// An ETag from a file's size and modification time in nanoseconds.
    public init(size: Int, modifiedNanoseconds: Int) {
        let tag = "\"" + String(size, radix: 16) + "-" + String(modifiedNanoseconds, radix: 16) + "\""
        self.init(etag: tag, lastModified: modifiedNanoseconds / 1_000_000_000)
    }

    public enum Outcome: Equatable, Sendable {
        case proceed
        case notModified
        case preconditionFailed
    }

    /// Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since for a GET or HEAD.
    public func evaluate(
        ifMatch: String?, ifUnmodifiedSince: String?, ifNoneMatch: String?, ifModifiedSince: String?
    ) -> Outcome {
        if let ifMatch {
            if !Self.list(ifMatch, contains: etag, weak: false) { return .preconditionFailed }
        } else if let ifUnmodifiedSince, let date = HTTPDate.parse(ifUnmodifiedSince), lastModified > date {
            return .preconditionFailed
        }
        if let ifNoneMatch {
            return Self.list(ifNoneMatch, contains: etag, weak: true) ? .notModified : .proceed
        }
        if let ifModifiedSince, let date = HTTPDate.parse(ifModifiedSince), lastModified <= date {
            return .notModified
        }
        return .proceed
    }

    /// Whether a Range should be honoured given its If-Range (RFC 9110 §13.1.5): a strong ETag
    /// match, or a date equal to Last-Modified.
    public func rangeApplies(ifRange: String?) -> Bool {
        guard let ifRange = ifRange?.trimmingSpaces() else { return true }
        if ifRange.hasPrefix("\"") || ifRange.hasPrefix("W/") {
            return ifRange == etag
        }
        guard let date = HTTPDate.parse(ifRange) else { return false }
        return date == lastModified
    }

    /// Whether a comma-separated entity-tag list (or `*`) matches `tag`.
    package static func list(_ header: String, contains tag: String, weak: Bool) -> Bool {
        let trimmed = header.trimmingSpaces()
        if trimmed == "*" { return true }
        for item in trimmed.split(separator: ",") {
            var candidate = item.trimmingSpaces()
            if candidate.hasPrefix("W/") {
                guard weak else { continue }
                candidate = candidate.dropFirst(2)
            }
            if candidate == tag[...] { return true }
        }
        return false
    }
}
