import DevServeSystem
import NIOCore

/// The pieces of live reload that are plain data: the poll's query, its JSON answers, and the
/// script tag injected into HTML pages.
package enum LiveReload {
    package static let pollPath = "/__devserve/poll"
    package static let clientPath = "/__devserve/client.js"
    /// HTML larger than this is served untouched.
    package static let maximumInjectedBytes = 16 * 1024 * 1024

    /// `boot` and `since` of `/__devserve/poll?boot=B&since=V`.
    package struct PollQuery: Equatable {
        package var boot: String?
        package var since: Int?

        /// Nil when `since` is present but not a whole number.
        package init?(_ query: Substring?) {
            for pair in (query ?? "").split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let value = parts.count > 1 ? String(parts[1]) : ""
                switch parts[0] {
                case "boot": boot = value
                case "since":
                    guard let number = Int(value), number >= 0 else { return nil }
                    since = number
                default: break
                }
            }
        }
    }

    /// `{"boot":"B","version":V}` plus, as given, `"restarted":true` or the changes.
    package static func json(
        boot: String, version: Int, restarted: Bool = false, changes: [ChangeHub.Change]? = nil, full: Bool = false
    )
        -> String
    {
        var text = "{\"boot\":\(quote(boot)),\"version\":\(version)"
        if restarted { text += ",\"restarted\":true" }
        if let changes {
            text += ",\"changes\":["
            text += changes.map { "{\"path\":\(quote($0.path)),\"kind\":\(quote($0.kind))}" }.joined(separator: ",")
            text += "],\"full\":\(full)"
        }
        return text + "}"
    }

    /// A JSON string literal.
    package static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar == "\u{2028}" || scalar == "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    package static func scriptTag(boot: String, version: Int) -> String {
        "<script src=\"\(clientPath)\" data-boot=\"\(boot)\" data-version=\"\(version)\" defer></script>"
    }

    /// `html` with `tag` before the first `</head>`, else before the first `</body>`, else at the
    /// end (tags matched case-insensitively).
    package static func inject(_ tag: String, into html: ByteBuffer) -> ByteBuffer {
        let offset = html.withUnsafeReadableBytes { bytes in
            find("</head", in: bytes) ?? find("</body", in: bytes) ?? bytes.count
        }
        var result = ByteBuffer()
        result.reserveCapacity(html.readableBytes + tag.utf8.count)
        var before = html.getSlice(at: html.readerIndex, length: offset) ?? ByteBuffer()
        var after = html.getSlice(at: html.readerIndex + offset, length: html.readableBytes - offset) ?? ByteBuffer()
        result.writeBuffer(&before)
        result.writeString(tag)
        result.writeBuffer(&after)
        return result
    }

    /// The offset of `needle` (lowercase ASCII) in `bytes`, compared case-insensitively, where it
    /// is followed by `>` or whitespace.
    package static func find(_ needle: String, in bytes: UnsafeRawBufferPointer) -> Int? {
        let pattern = Array(needle.utf8)
        guard bytes.count >= pattern.count else { return nil }
        var index = 0
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0] {
                var matched = 1
                while matched < pattern.count {
                    let byte = bytes[index + matched]
                    let folded = ASCII.lowercased(byte)
                    if folded != pattern[matched] { break }
                    matched += 1
                }
                if matched == pattern.count {
                    let next = index + matched < bytes.count ? bytes[index + matched] : UInt8(ascii: ">")
                    if next == UInt8(ascii: ">") || next == 0x20 || next == 0x09 || next == 0x0A || next == 0x0D {
                        return index
                    }
                }
            }
            index += 1
        }
        return nil
    }
}
