import Foundation
import Testing

@testable import DevServeHTTP
@testable import DevServeServer
@testable import DevServeSite

@Suite struct MediaTypeTests {
    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"),
        ("INDEX.HTM", "text/html; charset=utf-8"),
        ("site.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("mod.mjs", "text/javascript; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("app.js.map", "application/json; charset=utf-8"),
        ("logo.svg", "image/svg+xml; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("site.webmanifest", "application/manifest+json; charset=utf-8"),
        ("photo.png", "image/png"),
        ("photo.JPG", "image/jpeg"),
        ("font.woff2", "font/woff2"),
        ("module.wasm", "application/wasm"),
        ("clip.mp4", "video/mp4"),
        ("archive.unknownext", "application/octet-stream"),
        ("Makefile", "application/octet-stream"),
        (".hidden", "application/octet-stream"),
        ("trailingdot.", "application/octet-stream"),
    ])
    func typeForName(_ name: String, _ expected: String) {
        #expect(MediaType.forFileName(name) == expected)
    }
}
