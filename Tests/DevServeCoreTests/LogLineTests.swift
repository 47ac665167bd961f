import Foundation
import Testing

@testable import DevServeServer
@testable import DevServeSite

@Suite struct LogLineTests {
    @Test func formatsARequest() {
        #expect(
            LogLine.request(method: "GET", path: "/index.html", status: 200, bytes: 1520, milliseconds: 0.34)
                == "GET /index.html 200 1520 B 0.3 ms")
    }

    @Test(arguments: [
        ("/plain", "/plain"),
        ("/a\nb", "/a\\x0Ab"),
        ("/a\r\nFAKE 200", "/a\\x0D\\x0AFAKE 200"),
        ("/\u{1B}[31mred", "/\\x1B[31mred"),
        ("/del\u{7F}", "/del\\x7F"),
        ("/c1\u{9B}", "/c1\\x9B"),
        ("/bidi\u{202E}txt", "/bidi\\u{202E}txt"),
        ("/back\\slash", "/back\\\\slash"),
        ("/é", "/é"),
    ])
    func escapesControlCharacters(_ raw: String, _ expected: String) {
        #expect(LogLine.escape(raw) == expected)
    }
}
