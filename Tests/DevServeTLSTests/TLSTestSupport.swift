import Foundation

@testable import DevServeTLS

/// A fresh folder under the system temporary folder, removed when the test's `body` returns.
func withTemporaryFolder<T>(_ body: (String) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("devserve-tls-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    return try body(folder)
}

/// Runs /usr/bin/openssl and returns what it printed (stdout and stderr together) and its status.
func openssl(_ arguments: [String]) throws -> (output: String, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (String(decoding: data, as: UTF8.self), process.terminationStatus)
}

/// The certificate as `openssl x509 -noout -text` prints it.
func certificateText(_ path: String) throws -> String {
    try openssl(["x509", "-in", path, "-noout", "-text"]).output
}

/// The permission bits of a file.
func mode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return ((attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1) & 0o777
}

/// The modification time of a file, to the nanosecond.
func modificationTime(_ path: String) -> timespec {
    var info = stat()
    _ = stat(path, &info)
    return info.st_mtim
}

/// Days between notBefore and notAfter, read back with `openssl x509 -dates`.
func validityDays(_ path: String) throws -> Int {
    let dates = try openssl(["x509", "-in", path, "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601"]).output
    var values: [Date] = []
    for line in dates.split(separator: "\n") {
        guard let equals = line.firstIndex(of: "=") else { continue }
        let text = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ssX"
        if let date = formatter.date(from: text) { values.append(date) }
    }
    guard values.count == 2 else { return -1 }
    return Int((values[1].timeIntervalSince(values[0]) / 86_400).rounded())
}
