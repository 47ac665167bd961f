import ArgumentParser

/// `--header "Name: value"`: a token name and a value without line breaks.
enum HeaderArgument {
    static func parse(_ text: String) throws -> (name: String, value: String) {
        guard let colon = text.firstIndex(of: ":") else {
            throw ValidationError("--header '\(text)' is not 'Name: value': put a colon after the header name.")
        }
        let name = String(text[..<colon])
        let value = String(text[text.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" }))
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
            throw ValidationError("--header '\(text)' has an invalid name: use letters, digits and - only.")
        }
        guard value.unicodeScalars.allSatisfy({ $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }) else {
            throw ValidationError("--header '\(text)' has a control character in its value: remove it.")
        }
        let reserved = ["content-length", "transfer-encoding", "connection", "content-range"]
        if reserved.contains(name.lowercased()) {
            throw ValidationError("--header '\(name)' is set by devserve itself and cannot be overridden.")
        }
        return (name, value)
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// `--cors ORIGIN`: `scheme://host[:port]`, no path.
enum OriginArgument {
    static func isValid(_ origin: String) -> Bool {
        guard let separator = origin.firstRange(of: "://") else { return false }
        let scheme = origin[..<separator.lowerBound]
        let authority = origin[separator.upperBound...]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0 == "+" || $0 == "-" || $0 == "." }),
            !authority.isEmpty, !authority.contains("/"), !authority.contains("@"), !authority.contains(" ")
        else { return false }
        return true
    }
}

enum HostArgument {
    /// A host name, or `*.name` / `.name` for subdomains.
    static func isValidPattern(_ pattern: String) -> Bool {
        var name = Substring(pattern)
        if name.hasPrefix("*.") { name = name.dropFirst(2) } else if name.hasPrefix(".") { name = name.dropFirst() }
        return isValidName(name)
    }

    /// `localhost`, an IP literal (IPv6 optionally in brackets), or a host name.
    static func isValidListenHost(_ host: String) -> Bool {
        if host.contains(":") {
            let bare = host.hasPrefix("[") && host.hasSuffix("]") ? host.dropFirst().dropLast() : Substring(host)
            return bare.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return isValidName(Substring(host))
    }

    private static func isValidName(_ name: Substring) -> Bool {
        guard !name.isEmpty, name.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }
}
