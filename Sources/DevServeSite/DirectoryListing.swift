import DevServeHTTP

/// The HTML page for a folder without an index: entries sorted folders first, then by name
/// (case-insensitively), every name escaped for HTML and percent-encoded for its link.
public enum DirectoryListing {
    public struct Item: Sendable, Equatable {
        public var name: String
        public var isDirectory: Bool
        /// Nil where it is not told: a symbolic link out of the served folder.
        public var size: Int?
        public var modified: Int?

        public init(name: String, isDirectory: Bool, size: Int?, modified: Int?) {
            self.name = name
            self.isDirectory = isDirectory
            self.size = size
            self.modified = modified
        }
    }

    public static func sorted(_ items: [Item]) -> [Item] {
        items.sorted { left, right in
            if left.isDirectory != right.isDirectory { return left.isDirectory }
            let l = left.name.lowercased()
            let r = right.name.lowercased()
            return l == r ? left.name < right.name : l < r
        }
    }

    /// The page for `path` (the decoded URL path of the folder, ending in `/`).
    public static func render(path: String, items: [Item]) -> String {
        let title = "Index of " + escapeHTML(path)
        var html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title)</title>
            <style>
            body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
            h1{font-size:1.25rem;font-weight:600}table{border-collapse:collapse;width:100%}
            td{padding:.2rem .6rem;border-bottom:1px solid #eee}td.n{text-align:right;color:#666;white-space:nowrap}
            a{color:#0a58ca;text-decoration:none}a:hover{text-decoration:underline}
            @media (prefers-color-scheme:dark){body{background:#111;color:#ddd}td{border-color:#333}a{color:#6ea8fe}}
            </style>
            </head>
            <body>
            <h1>\(title)</h1>
            <table>

            """
        if path != "/" {
            html += "<tr><td><a href=\"../\">../</a></td><td class=\"n\"></td><td class=\"n\"></td></tr>\n"
        }
        for item in sorted(items) {
            guard let modified = item.modified else {
                // Not told (a link out of the served folder): named, with no link, size or time.
                html +=
                    "<tr><td>\(escapeHTML(item.name))</td><td class=\"n\">unavailable</td><td class=\"n\"></td></tr>\n"
                continue
            }
            let suffix = item.isDirectory ? "/" : ""
            let href = "./" + encodePathSegment(item.name) + suffix
            let size = item.isDirectory ? "" : item.size.map(formatSize) ?? ""
            html += "<tr><td><a href=\"\(escapeHTML(href))\">\(escapeHTML(item.name + suffix))</a></td>"
            html += "<td class=\"n\">\(size)</td><td class=\"n\">\(HTTPDate.format(modified))</td></tr>\n"
        }
        html += "</table>\n</body>\n</html>\n"
        return html
    }

    /// Escapes `& < > " '` for text and attribute values.
    public static func escapeHTML(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters, so a name with `#`, `?`,
    /// `:`, `%` or spaces stays one path segment.
    public static func encodePathSegment(_ name: String) -> String {
        let hex: [Character] = Array("0123456789ABCDEF")
        var result = ""
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result.append("%")
                result.append(hex[Int(byte >> 4)])
                result.append(hex[Int(byte & 0xF)])
            }
        }
        return result
    }

    static func formatSize(_ size: Int) -> String {
        if size < 1024 { return "\(size) B" }
        let units = ["KB", "MB", "GB", "TB"]
        var value = Double(size) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
