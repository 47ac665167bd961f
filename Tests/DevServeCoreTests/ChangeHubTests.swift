import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import DevServeLiveReload
@testable import DevServeServer
@testable import DevServeSite

@Suite struct ChangeHubTests {
    let css = ChangeHub.Change(path: "/css/site.css", kind: "modified")
    let page = ChangeHub.Change(path: "/index.html", kind: "modified")

    @Test func versionsCountBatchesAndAnswersListEverythingSince() {
        let hub = ChangeHub(boot: "b1")
        #expect(hub.version == 0)
        #expect(hub.answerNow(since: 0) == nil, "an up-to-date poll waits")
        #expect(hub.publish([css]).version == 1)
        #expect(hub.publish([page]).version == 2)
        #expect(hub.answerNow(since: 0) == .changes(version: 2, changes: [css, page], full: false))
        #expect(hub.answerNow(since: 1) == .changes(version: 2, changes: [page], full: false))
        #expect(hub.answerNow(since: 2) == nil)
    }

    @Test func aPollOlderThanTheLogOrAFullBatchIsFull() {
        let hub = ChangeHub(boot: "b1", capacity: 2)
        hub.publish([css])
        hub.publish([page])
        hub.publish([css])  // the first change falls out of the log
        #expect(hub.answerNow(since: 0) == .changes(version: 3, changes: [page, css], full: true))
        #expect(hub.answerNow(since: 1) == .changes(version: 3, changes: [page, css], full: false))
        hub.publish([], full: true)
        #expect(hub.answerNow(since: 3) == .changes(version: 4, changes: [], full: true))
        #expect(hub.answerNow(since: 4) == nil)
    }

    @Test func waitersAreToldByThePublishTheyWaitFor() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hub = ChangeHub(boot: "b1")
        let waits = (0..<1000).map { _ in hub.wait(since: 0, on: group.next(), timeout: .seconds(30)) }
        #expect(hub.waiting == 1000)
        let told = hub.publish([css]).told
        #expect(told == 1000)
        #expect(hub.waiting == 0)
        for wait in waits {
            #expect(try await wait.answer.get() == .changes(version: 1, changes: [css], full: false))
        }
        try await group.shutdownGracefully()
    }

    @Test func aWaitTimesOutOnItsEventLoopsClock() throws {
        // EmbeddedEventLoop is the injected clock: time moves only when the test says.
        let loop = EmbeddedEventLoop()
        let hub = ChangeHub(boot: "b1")
        let wait = hub.wait(since: 0, on: loop, timeout: .seconds(25))
        loop.advanceTime(by: .seconds(24))
        #expect(hub.waiting == 1, "still waiting after 24 s")
        loop.advanceTime(by: .seconds(1))
        #expect(try wait.answer.wait() == .nothingNew)
        #expect(hub.waiting == 0)
        // A change after the timeout tells nobody; the next poll is answered at once.
        #expect(hub.publish([css]).told == 0)
        #expect(hub.answerNow(since: 0) == .changes(version: 1, changes: [css], full: false))
        try loop.syncShutdownGracefully()
    }

    @Test func aCancelledWaitIsForgottenAndItsTimeoutNeverFires() throws {
        let loop = EmbeddedEventLoop()
        let hub = ChangeHub(boot: "b1")
        let gone = hub.wait(since: 0, on: loop, timeout: .seconds(25))
        hub.cancel(gone.id)
        #expect(throws: (any Error).self) { try gone.answer.wait() }
        #expect(hub.waiting == 0)
        loop.advanceTime(by: .seconds(30))
        #expect(hub.publish([css]).told == 0)
        try loop.syncShutdownGracefully()
    }

    @Test func closingAnswersEveryWaiter() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hub = ChangeHub(boot: "b1")
        let wait = hub.wait(since: 0, on: group.next(), timeout: .seconds(30))
        hub.close()
        #expect(try await wait.answer.get() == .nothingNew)
        #expect(try await hub.wait(since: 0, on: group.next(), timeout: .seconds(30)).answer.get() == .nothingNew)
        try await group.shutdownGracefully()
    }
}
