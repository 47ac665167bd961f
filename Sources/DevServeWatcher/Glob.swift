/// A shell-style pattern: `*` and `?` never cross `/`, `**` does, and `**/` also matches no
/// folder at all (`a/**/b` matches `a/b`). `[abc]`, `[a-z]` and `[!a-z]` (or `[^a-z]`) match one
/// character; a backslash makes the next character literal.
struct Glob: Sendable, Equatable {
    enum Token: Sendable, Equatable {
        case literal(Unicode.Scalar)
        case anyCharacter
        case characterSet(ranges: [ClosedRange<Unicode.Scalar>], negated: Bool)
        case star
        case globStar
        case globStarSlash
    }

    let tokens: [Token]

    init(_ pattern: String) {
        let scalars = Array(pattern.unicodeScalars)
        var tokens: [Token] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "*":
                var end = index + 1
                while end < scalars.count, scalars[end] == "*" { end += 1 }
                if end - index == 1 {
                    tokens.append(.star)
                } else if end < scalars.count, scalars[end] == "/" {
                    tokens.append(.globStarSlash)
                    end += 1
                } else {
                    tokens.append(.globStar)
                }
                index = end
                continue
            case "?":
                tokens.append(.anyCharacter)
            case "\\":
                if index + 1 < scalars.count {
                    index += 1
                    tokens.append(.literal(scalars[index]))
                } else {
                    tokens.append(.literal(scalar))
                }
            case "[":
                if let (set, next) = Glob.parseSet(scalars, from: index) {
                    tokens.append(set)
                    index = next
                    continue
                }
                tokens.append(.literal(scalar))
            default:
                tokens.append(.literal(scalar))
            }
            index += 1
        }
        self.tokens = tokens
    }

    /// Parses `[...]` starting at `start`; nil when there is no closing `]` (then `[` is literal).
    private static func parseSet(_ scalars: [Unicode.Scalar], from start: Int) -> (Token, Int)? {
        var index = start + 1
        var negated = false
        if index < scalars.count, scalars[index] == "!" || scalars[index] == "^" {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<Unicode.Scalar>] = []
        var first = true
        while index < scalars.count {
            var low = scalars[index]
            if low == "]" && !first {
                return (.characterSet(ranges: ranges, negated: negated), index + 1)
            }
            first = false
            if low == "\\", index + 1 < scalars.count {
                index += 1
                low = scalars[index]
            }
            if index + 2 < scalars.count, scalars[index + 1] == "-", scalars[index + 2] != "]" {
                let high = scalars[index + 2]
                ranges.append(low <= high ? low...high : high...low)
                index += 3
            } else {
                ranges.append(low...low)
                index += 1
            }
        }
        return nil
    }

    func matches(_ text: String) -> Bool {
        matches(Array(text.unicodeScalars)[...])
    }

    func matches(_ text: ArraySlice<Unicode.Scalar>) -> Bool {
        match(token: 0, text: text, at: text.startIndex)
    }

    private func match(token start: Int, text: ArraySlice<Unicode.Scalar>, at position: Int) -> Bool {
        var tokenIndex = start
        var index = position
        let end = text.endIndex
        while tokenIndex < tokens.count {
            switch tokens[tokenIndex] {
            case .literal(let scalar):
                guard index < end, text[index] == scalar else { return false }
            case .anyCharacter:
                guard index < end, text[index] != "/" else { return false }
            case .characterSet(let ranges, let negated):
                guard index < end, text[index] != "/" else { return false }
                let found = ranges.contains { $0.contains(text[index]) }
                guard found != negated else { return false }
            case .star:
                var candidate = index
                while true {
                    if match(token: tokenIndex + 1, text: text, at: candidate) { return true }
                    guard candidate < end, text[candidate] != "/" else { return false }
                    candidate += 1
                }
            case .globStar:
                for candidate in index...end where match(token: tokenIndex + 1, text: text, at: candidate) {
                    return true
                }
                return false
            case .globStarSlash:
                if match(token: tokenIndex + 1, text: text, at: index) { return true }
                for candidate in index..<end where text[candidate] == "/" {
                    if match(token: tokenIndex + 1, text: text, at: candidate + 1) { return true }
                }
                return false
            }
            tokenIndex += 1
            index += 1
        }
        return index == end
    }
}
