import Testing

@testable import DevServeHTTP
@testable import DevServeServer
@testable import DevServeSite

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
