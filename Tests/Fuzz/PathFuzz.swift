// A libFuzzer target for the path resolver, compiled alone with Sources/DevServeHTTP/RequestTarget.swift
// (see run.sh). For every input, `RequestTarget.parse(utf8:)` either refuses it, or returns a path
// that is safe to join under a root:
//
// 1. every segment is non-empty, not `.` or `..`, and holds no `/`, `\`, NUL, C0 or C1 control or DEL;
// 2. root + segments, normalised, is the same path and lies under the root;
// 3. a simple reference decoder (split, decode each segment once, resolve dots) agrees on
//    accept/refuse, on the segments and on the trailing slash;
// 4. percent-encoding the segments and parsing again gives the same segments back.
//
// A violation stops the process (fatalError), which libFuzzer reports as a crash with the input.

/// The root the segments are joined under; any absolute folder would do.
private let fuzzRoot: [UInt8] = Array("/srv/site".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func pathFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    let parsed: RequestTarget?
    do {
        parsed = try RequestTarget.parse(utf8: input)
    } catch {
        parsed = nil
    }
    let reference = ReferenceResolver.resolve(input)

    switch (parsed, reference) {
    case (nil, nil):
        return 0
    case (let target?, nil):
        fail("accepted, the reference refuses; segments \(target.segments)", input)
    case (nil, let expected?):
        fail("refused, the reference accepts with segments \(expected.segments)", input)
    case (let target?, let expected?):
        if target.segments != expected.segments {
            fail("segments \(target.segments), the reference says \(expected.segments)", input)
        }
        if target.trailingSlash != expected.trailingSlash {
            fail("trailingSlash \(target.trailingSlash), the reference says \(expected.trailingSlash)", input)
        }
        checkSafeSegments(target, input)
        checkStaysUnderRoot(target, input)
        checkRoundTrip(target, input)
    }
    return 0
}

/// Property 1: each segment is a plain file name.
private func checkSafeSegments(_ target: RequestTarget, _ input: [UInt8]) {
    for segment in target.segments {
        let bytes = Array(segment.utf8)
        if bytes.isEmpty { fail("an empty segment", input) }
        if bytes == [0x2E] || bytes == [0x2E, 0x2E] { fail("a dot segment \(segment)", input) }
        for byte in bytes where byte == 0x2F || byte == 0x5C || byte < 0x20 || byte == 0x7F {
            fail("segment \(escaped(bytes)) holds byte \(byte)", input)
        }
        for scalar in segment.unicodeScalars where (0x80...0x9F).contains(scalar.value) {
            fail("segment \(escaped(bytes)) holds the C1 control \(scalar.value)", input)
        }
    }
}

/// Property 2: joining under the root and normalising changes nothing and never leaves the root.
private func checkStaysUnderRoot(_ target: RequestTarget, _ input: [UInt8]) {
    var joined = fuzzRoot
    for segment in target.segments {
        joined.append(0x2F)
        joined.append(contentsOf: segment.utf8)
    }
    let rootComponents = fuzzRoot.split(separator: 0x2F).map(Array.init)
    var normalised: [[UInt8]] = []
    for component in joined.split(separator: 0x2F, omittingEmptySubsequences: true).map(Array.init) {
        if component == [0x2E] { continue }
        if component == [0x2E, 0x2E] {
            if normalised.isEmpty { fail("the joined path climbs above /", input) }
            normalised.removeLast()
            continue
        }
        normalised.append(component)
    }
    guard normalised.count >= rootComponents.count, Array(normalised.prefix(rootComponents.count)) == rootComponents
    else { fail("the joined path \(escaped(joined)) leaves the root", input) }
    if Array(normalised.dropFirst(rootComponents.count)) != target.segments.map({ Array($0.utf8) }) {
        fail("normalising \(escaped(joined)) changes it", input)
    }
}

/// Property 4: the segments, percent-encoded, parse back to themselves.
private func checkRoundTrip(_ target: RequestTarget, _ input: [UInt8]) {
    var encoded: [UInt8] = [0x2F]
    for (index, segment) in target.segments.enumerated() {
        if index > 0 { encoded.append(0x2F) }
        for byte in segment.utf8 {
            if isUnreserved(byte) {
                encoded.append(byte)
            } else {
                encoded.append(0x25)
                encoded.append(hexDigit(byte >> 4))
                encoded.append(hexDigit(byte & 0x0F))
            }
        }
    }
    if target.trailingSlash && !target.segments.isEmpty { encoded.append(0x2F) }
    do {
        let again = try RequestTarget.parse(utf8: encoded)
        let slashDiffers = !target.segments.isEmpty && again.trailingSlash != target.trailingSlash
        if again.segments != target.segments || slashDiffers {
            fail("re-encoded as \(escaped(encoded)) it parses to \(again.segments)", input)
        }
    } catch {
        fail("re-encoded as \(escaped(encoded)) it is refused (\(error))", input)
    }
}

private func isUnreserved(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

private func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
}

/// A second, deliberately plain reading of the rules in README.md ("Security defaults"):
/// split the path on `/`, decode each segment once, refuse what must be refused, resolve dots.
/// It shares no code with `RequestTarget` so a slip in one shows up as a disagreement.
private enum ReferenceResolver {
    struct Resolved {
        var segments: [String]
        var trailingSlash: Bool
    }

    static func resolve(_ raw: [UInt8]) -> Resolved? {
        guard raw.first == 0x2F else { return nil }
        // Anywhere in the target: no fragment, no raw space, control or non-ASCII byte.
        if raw.contains(where: { $0 == 0x23 || $0 <= 0x20 || $0 >= 0x7F }) { return nil }
        let path = raw.split(separator: 0x3F, maxSplits: 1, omittingEmptySubsequences: false)[0]
        let rawSegments = path.split(separator: 0x2F, omittingEmptySubsequences: false).dropFirst()

        var stack: [String] = []
        var lastIsDirectory = false
        for rawSegment in rawSegments {
            guard let decoded = decode(Array(rawSegment)) else { return nil }
            switch decoded {
            case []:
                lastIsDirectory = true
            case [0x2E]:
                lastIsDirectory = true
            case [0x2E, 0x2E]:
                if stack.isEmpty { return nil }
                stack.removeLast()
                lastIsDirectory = true
            default:
                guard let name = String(validating: decoded, as: UTF8.self),
                    !name.unicodeScalars.contains(where: { (0x80...0x9F).contains($0.value) })
                else { return nil }
                stack.append(name)
                lastIsDirectory = false
            }
        }
        return Resolved(segments: stack, trailingSlash: lastIsDirectory)
    }

    /// Percent-decodes one segment; nil for a bad escape or a forbidden byte.
    static func decode(_ segment: [UInt8]) -> [UInt8]? {
        var result: [UInt8] = []
        var index = 0
        while index < segment.count {
            var byte = segment[index]
            if byte == 0x5C { return nil }
            if byte == 0x25 {
                guard index + 2 < segment.count, let high = hex(segment[index + 1]), let low = hex(segment[index + 2])
                else { return nil }
                byte = high * 16 + low
                if byte == 0x2F || byte == 0x5C || byte < 0x20 || byte == 0x7F { return nil }
                index += 3
            } else {
                index += 1
            }
            result.append(byte)
        }
        return result
    }

    static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}

private func escaped(_ bytes: [UInt8]) -> String {
    var text = "\""
    for byte in bytes {
        if byte >= 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x5C {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            let digits = String(byte, radix: 16)
            text += "\\x" + (digits.count < 2 ? "0" + digits : digits)
        }
    }
    return text + "\""
}

private func fail(_ message: String, _ input: [UInt8]) -> Never {
    fatalError("path resolver property violated for \(escaped(input)): \(message)")
}
