/// Content types by file extension, with `charset=utf-8` on every textual type.
///
/// A fixed table rather than /etc/mime.types: the answers must not depend on the machine, and
/// a dev server's files are a known set (web formats, images, fonts, media, source maps, wasm).
public enum MediaType {
    /// The `Content-Type` value for a file name; `application/octet-stream` when unknown.
    public static func forFileName(_ name: some StringProtocol) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return fallback }
        let ext = name[name.index(after: dot)...].lowercased()
        return table[ext] ?? fallback
    }

    /// Whether the value names HTML (where the live-reload client is injected).
    public static func isHTML(_ contentType: some StringProtocol) -> Bool {
        contentType.hasPrefix("text/html")
    }

    public static let fallback = "application/octet-stream"
    public static let html = "text/html; charset=utf-8"

    static let table: [String: String] = {
        let text = "; charset=utf-8"
        var table: [String: String] = [
            "html": "text/html" + text, "htm": "text/html" + text, "xhtml": "application/xhtml+xml" + text,
            "css": "text/css" + text,
            "js": "text/javascript" + text, "mjs": "text/javascript" + text, "cjs": "text/javascript" + text,
            "jsx": "text/javascript" + text, "ts": "text/javascript" + text, "tsx": "text/javascript" + text,
            "json": "application/json" + text, "map": "application/json" + text,
            "jsonld": "application/ld+json" + text,
            "webmanifest": "application/manifest+json" + text,
            "xml": "application/xml" + text, "rss": "application/rss+xml" + text,
            "atom": "application/atom+xml" + text,
            "svg": "image/svg+xml" + text,
            "txt": "text/plain" + text, "text": "text/plain" + text, "log": "text/plain" + text,
            "md": "text/markdown" + text, "markdown": "text/markdown" + text,
            "csv": "text/csv" + text, "tsv": "text/tab-separated-values" + text,
            "yaml": "text/yaml" + text, "yml": "text/yaml" + text, "toml": "text/plain" + text,
            "vtt": "text/vtt" + text, "ics": "text/calendar" + text,
            "wasm": "application/wasm",
            "png": "image/png", "apng": "image/apng", "jpg": "image/jpeg", "jpeg": "image/jpeg",
            "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon",
            "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff",
            "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
            "mp4": "video/mp4", "webm": "video/webm", "ogv": "video/ogg", "mov": "video/quicktime",
            "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg", "oga": "audio/ogg",
            "wav": "audio/wav", "flac": "audio/flac", "opus": "audio/opus",
            "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
            "tar": "application/x-tar",
        ]
        table["glsl"] = "text/plain" + text
        return table
    }()
}
