/// The parsed-target memo's storage, bounded in bytes as well as in entries: a client sending
/// endless distinct long targets (`/app.js?<15 KB>`) must not pin memory. A target longer than
/// `maximumKeyBytes` is never remembered (a page's own paths are short); the rest are counted
/// by what they hold (the raw key, the parsed value's text, which keeps the raw target alive
/// through its query) and the memo is emptied when either bound would be passed.
struct TargetMemo<Value> {
    let entryLimit: Int
    let byteLimit: Int
    let maximumKeyBytes: Int
    private var entries: [FileResponder.TargetKey: (value: Value, cost: Int)] = [:]
    /// The bytes the remembered entries account for.
    private(set) var bytes = 0

    init(entryLimit: Int, byteLimit: Int, maximumKeyBytes: Int) {
        self.entryLimit = entryLimit
        self.byteLimit = byteLimit
        self.maximumKeyBytes = maximumKeyBytes
    }

    var count: Int { entries.count }

    subscript(key: FileResponder.TargetKey) -> Value? { entries[key]?.value }

    /// Remembers `value` for `key`, whose stored form costs about `cost` bytes beyond the key.
    mutating func insert(_ value: Value, for key: FileResponder.TargetKey, cost: Int) {
        let keyBytes = key.text.utf8.count
        guard keyBytes <= maximumKeyBytes else { return }
        let total = keyBytes + cost + Self.entryOverhead
        if let old = entries[key] { bytes -= old.cost }
        if entries.count >= entryLimit || bytes + total > byteLimit {
            // Not keepingCapacity: the point is to give the memory back.
            entries.removeAll()
            bytes = 0
        }
        entries[key] = (value, total)
        bytes += total
    }

    /// Dictionary slot, String and array headers: a rough per-entry cost so many tiny targets
    /// are counted too.
    static var entryOverhead: Int { 128 }
}
