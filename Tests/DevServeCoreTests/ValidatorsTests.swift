import Testing

@testable import DevServeHTTP
@testable import DevServeServer
@testable import DevServeSite

@Suite struct ValidatorsTests {
    let validators = Validators(etag: "\"abc\"", lastModified: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
    let date = "Sun, 06 Nov 1994 08:49:37 GMT"
    let earlier = "Sun, 06 Nov 1994 08:49:36 GMT"

    func outcome(
        ifMatch: String? = nil, ifUnmodifiedSince: String? = nil, ifNoneMatch: String? = nil,
        ifModifiedSince: String? = nil
    ) -> Validators.Outcome {
        validators.evaluate(
            ifMatch: ifMatch, ifUnmodifiedSince: ifUnmodifiedSince, ifNoneMatch: ifNoneMatch,
            ifModifiedSince: ifModifiedSince)
    }

    @Test func ifNoneMatchUsesWeakComparisonAndLists() {
        #expect(outcome(ifNoneMatch: "\"abc\"") == .notModified)
        #expect(outcome(ifNoneMatch: "W/\"abc\"") == .notModified)
        #expect(outcome(ifNoneMatch: "\"x\", \"abc\"") == .notModified)
        #expect(outcome(ifNoneMatch: "*") == .notModified)
        #expect(outcome(ifNoneMatch: "\"x\"") == .proceed)
        #expect(outcome(ifNoneMatch: "abc") == .proceed)
    }

    @Test func ifModifiedSinceComparesSeconds() {
        #expect(outcome(ifModifiedSince: date) == .notModified)
        #expect(outcome(ifModifiedSince: "Mon, 07 Nov 1994 08:49:37 GMT") == .notModified)
        #expect(outcome(ifModifiedSince: earlier) == .proceed)
        #expect(outcome(ifModifiedSince: "garbage") == .proceed)
    }

    @Test func ifNoneMatchWinsOverIfModifiedSince() {
        #expect(outcome(ifNoneMatch: "\"other\"", ifModifiedSince: date) == .proceed)
    }

    @Test func ifMatchAndIfUnmodifiedSince() {
        #expect(outcome(ifMatch: "\"abc\"") == .proceed)
        #expect(outcome(ifMatch: "W/\"abc\"") == .preconditionFailed)
        #expect(outcome(ifMatch: "\"nope\"") == .preconditionFailed)
        #expect(outcome(ifUnmodifiedSince: earlier) == .preconditionFailed)
        #expect(outcome(ifUnmodifiedSince: date) == .proceed)
    }

    @Test func ifRangeNeedsAStrongMatchOrTheExactDate() {
        #expect(validators.rangeApplies(ifRange: nil))
        #expect(validators.rangeApplies(ifRange: "\"abc\""))
        #expect(!validators.rangeApplies(ifRange: "W/\"abc\""))
        #expect(!validators.rangeApplies(ifRange: "\"old\""))
        #expect(validators.rangeApplies(ifRange: date))
        #expect(!validators.rangeApplies(ifRange: earlier))
        #expect(!validators.rangeApplies(ifRange: "yesterday"))
    }

    @Test func etagChangesWithSizeAndTime() {
        let a = Validators(size: 10, modifiedNanoseconds: 1_000_000_000_123)
        let b = Validators(size: 11, modifiedNanoseconds: 1_000_000_000_123)
        let c = Validators(size: 10, modifiedNanoseconds: 1_000_000_000_124)
        #expect(a.etag != b.etag && a.etag != c.etag && b.etag != c.etag)
        #expect(a.etag.hasPrefix("\"") && a.etag.hasSuffix("\""))
        #expect(a.lastModified == 1000)
    }
}
