/// What `devserve trust` did to one store: a line of the report, and its part in the exit status.
struct TrustOutcome: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// The store changed: the CA was added, its trust set, or it was removed.
        case done
        /// The store was already as asked: already trusted, or nothing of ours to remove.
        case alreadyDone
        /// It could not be done; the detail says why and what to run instead.
        case couldNot
        /// There was nothing to act on (no store of that kind here).
        case notApplicable
    }

    /// The store, e.g. `System store (/usr/local/share/ca-certificates)`.
    var store: String
    var kind: Kind
    /// One sentence, e.g. `already trusted.`
    var detail: String

    var line: String { "\(store): \(detail)" }

    /// The exit status rule: `trust` fails (non-zero) only when no store ended up as asked and at
    /// least one could not be done. A partial success (say the system store needs sudo but Firefox
    /// now trusts the CA) exits 0: the report says what is left, and the CA is usable already.
    static func commandFailed(_ outcomes: [TrustOutcome]) -> Bool {
        !outcomes.contains { $0.kind == .done || $0.kind == .alreadyDone } && outcomes.contains { $0.kind == .couldNot }
    }
}
