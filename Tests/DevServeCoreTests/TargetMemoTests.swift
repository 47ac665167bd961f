import Testing

@testable import DevServeServer
@testable import DevServeSite

/// The remembered-target memo is bounded in bytes: many distinct long targets
/// (`/app.js?<unique>`) must not pin memory.
@Suite struct TargetMemoTests {
    static func responder() -> FileResponder {
        FileResponder(configuration: ServerConfiguration(root: "/nonexistent-devserve-root"))
    }

    /// 1,000 distinct 15 KB targets: none is remembered, the memo accounts for no bytes.
    @Test func longTargetsAreNotRemembered() {
        let responder = Self.responder()
        let padding = String(repeating: "a", count: 15 * 1024)
        for number in 0..<1000 {
            _ = responder.parsedTarget("/app.js?\(number)-\(padding)"[...])
        }
        let (count, bytes) = responder.parsedTargets.withLock { ($0.count, $0.bytes) }
        #expect(count == 0)
        #expect(bytes == 0)
    }

    /// Targets just under the length limit are remembered, and the byte count stays under the bound.
    @Test func manyMediumTargetsStayUnderTheByteBound() {
        let responder = Self.responder()
        let padding = String(repeating: "b", count: FileResponder.parsedTargetMaximumKeyBytes - 40)
        var largest = 0
        for number in 0..<5000 {
            _ = responder.parsedTarget("/app.js?\(number)-\(padding)"[...])
            largest = max(largest, responder.parsedTargets.withLock { $0.bytes })
        }
        #expect(largest > 0)
        #expect(largest <= FileResponder.parsedTargetBytes)
        // A remembered target is still found.
        _ = responder.parsedTarget("/short.js"[...])
        #expect(responder.parsedTargets.withLock { $0[FileResponder.TargetKey("/short.js")] } != nil)
    }

    /// The memo on its own: entries and bytes both bound it, and re-inserting a key does not
    /// count it twice.
    @Test func memoAccounting() {
        var memo = TargetMemo<Int>(entryLimit: 100, byteLimit: 10_000, maximumKeyBytes: 500)
        for number in 0..<1000 {
            memo.insert(
                number, for: FileResponder.TargetKey("/\(number)-" + String(repeating: "x", count: 400)), cost: 400)
            #expect(memo.bytes <= 10_000)
            #expect(memo.count <= 100)
        }
        var small = TargetMemo<Int>(entryLimit: 100, byteLimit: 1_000_000, maximumKeyBytes: 500)
        small.insert(1, for: FileResponder.TargetKey("/a"), cost: 10)
        let once = small.bytes
        small.insert(2, for: FileResponder.TargetKey("/a"), cost: 10)
        #expect(small.bytes == once)
        #expect(small[FileResponder.TargetKey("/a")] == 2)
        small.insert(3, for: FileResponder.TargetKey("/" + String(repeating: "y", count: 600)), cost: 10)
        #expect(small.count == 1)
    }
}
