import ArgumentParser
import DevServeHTTP
import DevServeServer
import DevServeSite
import DevServeSystem
import DevServeTLS

/// `--header "Name: value"`: a token name and a value without line breaks.
enum HeaderArgument {
    static func parse(_ text: String) throws -> (name: String, value: String) {
        guard let colon = text.firstIndex(of: ":") else {
            throw ValidationError("--header '\(text)' is not 'Name: value': put a colon after the header name.")
        }
        let name = String(text[..<colon])
        let value = String(text[text.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" }))
        guard !name.isEmpty, name.utf8.allSatisfy(ASCII.isTokenByte) else {
            throw ValidationError("--header '\(text)' has an invalid name: use letters, digits and - only.")
        }
        guard value.unicodeScalars.allSatisfy({ $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }) else {
            throw ValidationError("--header '\(text)' has a control character in its value: remove it.")
        }
        // `make install` and `make uninstall` tell devserve's binary by this sentence: keep it.
        if ResponseFields.setByDevserve.contains(name.lowercased()) {
            throw ValidationError("--header '\(name)' is set by devserve itself and cannot be overridden.")
        }
        guard value.utf8.count <= maximumValueBytes else {
            throw ValidationError(
                "--header '\(name)' has a value of \(value.utf8.count) bytes: keep it under \(maximumValueBytes), "
                    + "which every browser accepts.")
        }
        return (name, value)
    }

    /// Longer values can break HTTP/2 responses (clients cap a header block at 16 KiB or so).
    static let maximumValueBytes = 4096

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
        isValidName(subdomainsOf(pattern) ?? Substring(pattern))
    }

    /// The name under a `*.name` or `.name` pattern; nil for a plain name.
    static func subdomainsOf(_ pattern: String) -> Substring? {
        if pattern.hasPrefix("*.") { return pattern.dropFirst(2) }
        if pattern.hasPrefix(".") { return pattern.dropFirst() }
        return nil
    }

    /// A pattern for every name under a top-level domain or a public suffix (`*.com`, `.co.uk`):
    /// it would let any site in through DNS rebinding, the attack the Host check is there for.
    /// `*.localhost` is not: those names are always accepted, and never leave the machine.
    static func isTooBroad(_ pattern: String, suffixes: PublicSuffixList? = .system) -> Bool {
        guard var name = subdomainsOf(pattern)?.lowercased() else { return false }
        if name.hasSuffix(".") { name.removeLast() }
        if name == "localhost" { return false }
        let labels = name.split(separator: ".")
        return labels.count < 2 || publicSuffixes.contains(name) || suffixes?.isPublicSuffix(name) == true
    }

    /// Public suffixes common enough to be typed by mistake, checked even where the Public Suffix
    /// List is not installed; one-label ones (`com`, `dev`, `test`) are refused by their count.
    static let publicSuffixes: Set<String> = [
        "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "ne.jp", "com.br",
        "com.cn", "co.in", "co.za", "com.mx", "com.tr", "co.kr", "github.io", "netlify.app", "vercel.app",
        "pages.dev", "herokuapp.com", "ngrok.io", "ngrok-free.app", "trycloudflare.com", "loca.lt",
    ]

    /// `localhost`, an IP literal (IPv6 optionally in brackets), or a host name.
    static func isValidListenHost(_ host: String) -> Bool {
        IPAddress(host) != nil || isValidName(Substring(host))
    }

    private static func isValidName(_ name: Substring) -> Bool {
        guard !name.isEmpty, name.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }
}

/// The Public Suffix List (publicsuffix.org) as Debian's `publicsuffix` package ships it: the
/// names under which anyone can register a domain of their own (`co.il`, `eu.org`,
/// `duckdns.org`), so a wildcard over one lets any site in.
struct PublicSuffixList: Sendable {
    static let debianPath = "/usr/share/publicsuffix/public_suffix_list.dat"

    private var names: Set<String> = []
    /// `ck` for the rule `*.ck`: every name directly under it is a suffix...
    private var wildcards: Set<String> = []
    /// ...except these (`!www.ck`).
    private var exceptions: Set<String> = []

    /// The installed list, read once; nil where the package is missing.
    static let system: PublicSuffixList? = CertificateFiles.read(debianPath).map {
        PublicSuffixList(text: String(decoding: $0, as: UTF8.self))
    }

    /// From the list's text: one rule a line, `//` comments, rules end at whitespace. Rules in
    /// Unicode (`公司.cn`) are kept as browsers send such names, in punycode (`xn--55qx5d.cn`).
    init(text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            guard let rule = line.split(whereSeparator: \.isWhitespace).first, !rule.hasPrefix("//") else { continue }
            guard let lowered = Punycode.asciiName(rule.lowercased()) else { continue }
            if lowered.hasPrefix("!") {
                exceptions.insert(String(lowered.dropFirst()))
            } else if lowered.hasPrefix("*.") {
                wildcards.insert(String(lowered.dropFirst(2)))
            } else {
                names.insert(lowered)
            }
        }
    }

    /// Whether `name` (lowercased, no trailing dot) is itself a public suffix.
    func isPublicSuffix(_ name: String) -> Bool {
        if exceptions.contains(name) { return false }
        if names.contains(name) { return true }
        guard let dot = name.firstIndex(of: ".") else { return false }
        return wildcards.contains(String(name[name.index(after: dot)...]))
    }
}

/// RFC 3492's Punycode, for the labels of a name written in Unicode: `bücher` → `xn--bcher-kva`.
/// The list's Unicode rules are already in the form IDNA maps names to (lower case, NFC).
enum Punycode {
    /// `name` with each non-ASCII label in its ACE form; nil when a label cannot be encoded.
    static func asciiName(_ name: String) -> String? {
        var labels: [String] = []
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            if label.unicodeScalars.allSatisfy(\.isASCII) {
                labels.append(String(label))
            } else {
                guard let encoded = encode(Array(label.unicodeScalars.map(\.value))) else { return nil }
                labels.append("xn--" + encoded)
            }
        }
        return labels.joined(separator: ".")
    }

    private static let base: UInt32 = 36
    private static let tMin: UInt32 = 1
    private static let tMax: UInt32 = 26

    /// The Punycode of one label's code points (without the `xn--` prefix).
    static func encode(_ input: [UInt32]) -> String? {
        var output = input.filter { $0 < 0x80 }.map { Character(Unicode.Scalar(UInt8($0))) }
        let basicCount = UInt32(output.count)
        if basicCount > 0 { output.append("-") }
        var n: UInt32 = 0x80
        var delta: UInt32 = 0
        var bias: UInt32 = 72
        var handled = basicCount
        while handled < UInt32(input.count) {
            guard let next = input.filter({ $0 >= n }).min() else { return nil }
            let (grown, overflow) = (next - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow, delta <= UInt32.max - grown else { return nil }
            delta += grown
            n = next
            for point in input {
                if point < n {
                    guard delta < UInt32.max else { return nil }
                    delta += 1
                }
                guard point == n else { continue }
                var q = delta
                var k = base
                while true {
                    let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                    if q < t { break }
                    output.append(digit(t + (q - t) % (base - t)))
                    q = (q - t) / (base - t)
                    k += base
                }
                output.append(digit(q))
                bias = adapt(delta, points: handled + 1, first: handled == basicCount)
                delta = 0
                handled += 1
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    private static func digit(_ value: UInt32) -> Character {
        Character(Unicode.Scalar(UInt8(value < 26 ? 0x61 + value : 0x30 + value - 26)))
    }

    private static func adapt(_ delta: UInt32, points: UInt32, first: Bool) -> UInt32 {
        var delta = first ? delta / 700 : delta / 2
        delta += delta / points
        var k: UInt32 = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + ((base - tMin + 1) * delta) / (delta + 38)
    }
}
