/// The byte classes and case rules of ASCII text that protocols and the command line share:
/// HTTP names compare case-insensitively in ASCII only, and never by Unicode rules.
public enum ASCII {
    public static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    public static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    public static func isUppercase(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }

    /// `byte` with A–Z folded to a–z; every other byte as it is.
    public static func lowercased(_ byte: UInt8) -> UInt8 { isUppercase(byte) ? byte | 0x20 : byte }

    /// `text` with A–Z folded to a–z (bytes ≥ 0x80 untouched).
    public static func lowercased(_ text: some Collection<UInt8>) -> String {
        String(decoding: text.map(lowercased), as: UTF8.self)
    }

    /// An RFC 9110 `tchar`: what method and header-field names are made of.
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }

    /// A space or a horizontal tab (HTTP's optional whitespace).
    public static func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == 0x09 }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    public func trimmingSpaces() -> SubSequence {
        let start = firstIndex { $0 != " " && $0 != "\t" } ?? endIndex
        let end = self[start...].lastIndex { $0 != " " && $0 != "\t" }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
