import Testing

@testable import DevServeCore

@Suite struct ByteRangeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var header: String?
        var size: Int
        var expected: RangeDecision
        var testDescription: String { "\(header ?? "nil") of \(size)" }
    }

    @Test(arguments: [
        Case(header: nil, size: 100, expected: .whole),
        Case(header: "bytes=0-9", size: 100, expected: .partial(first: 0, last: 9)),
        Case(header: "bytes=10-", size: 100, expected: .partial(first: 10, last: 99)),
        Case(header: "bytes=-5", size: 100, expected: .partial(first: 95, last: 99)),
        Case(header: "bytes=-500", size: 100, expected: .partial(first: 0, last: 99)),
        Case(header: "bytes=90-200", size: 100, expected: .partial(first: 90, last: 99)),
        Case(header: "bytes=99-99", size: 100, expected: .partial(first: 99, last: 99)),
        Case(header: "BYTES = 0-0", size: 100, expected: .partial(first: 0, last: 0)),
        Case(header: "bytes= 5-6 ", size: 100, expected: .partial(first: 5, last: 6)),
        // Unsatisfiable: starts past the end, zero-length suffix, empty file.
        Case(header: "bytes=100-", size: 100, expected: .unsatisfiable),
        Case(header: "bytes=100-200", size: 100, expected: .unsatisfiable),
        Case(header: "bytes=-0", size: 100, expected: .unsatisfiable),
        Case(header: "bytes=0-", size: 0, expected: .unsatisfiable),
        Case(header: "bytes=-1", size: 0, expected: .unsatisfiable),
        // Several ranges, overlapping or too many: the whole file.
        Case(header: "bytes=0-1,5-6", size: 100, expected: .whole),
        Case(header: "bytes=0-50,25-75", size: 100, expected: .whole),
        Case(
            header: "bytes=" + (0..<9).map { "\($0 * 2)-\($0 * 2)" }.joined(separator: ","), size: 100, expected: .whole
        ),
        // Malformed: ignored (whole file), never a crash.
        Case(header: "bytes=9-1", size: 100, expected: .whole),
        Case(header: "bytes=a-b", size: 100, expected: .whole),
        Case(header: "bytes=", size: 100, expected: .whole),
        Case(header: "bytes=-", size: 100, expected: .whole),
        Case(header: "bytes=1-2-3", size: 100, expected: .whole),
        Case(header: "bytes=+1-2", size: 100, expected: .whole),
        Case(header: "items=0-1", size: 100, expected: .whole),
        Case(header: "0-1", size: 100, expected: .whole),
        Case(header: "bytes=99999999999999999999999-", size: 100, expected: .unsatisfiable),
        Case(header: "bytes=0-99999999999999999999999", size: 100, expected: .partial(first: 0, last: 99)),
    ])
    func decides(_ testCase: Case) {
        #expect(RangeDecision(header: testCase.header, size: testCase.size) == testCase.expected)
    }
}

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

@Suite struct HTTPDateTests {
    @Test func formatsAndParsesIMFFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Sat, 29 Feb 2020 12:00:00 GMT") == 1_582_977_600)
        for seconds in [0, 951_782_400, 1_700_000_000, 4_102_444_800] {
            #expect(HTTPDate.parse(HTTPDate.format(seconds)) == seconds)
        }
    }

    @Test(arguments: [
        "", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 25:00:00 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
    ])
    func refusesOtherForms(_ text: String) {
        #expect(HTTPDate.parse(text) == nil)
    }
}
