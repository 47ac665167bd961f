import DevServeSystem
import DevServeTLS

#if canImport(Glibc)
    import Glibc
#endif

/// The system store: one anchor file in the anchor folder, then the update command.
extension TrustStores {
    /// Copies the CA to the anchor folder and runs the update command, unless the anchor there is
    /// already this CA. Without permission, the report gives the commands to run with sudo.
    func installSystemAnchor(certificatePath: String, certificatePEM: [UInt8]) -> TrustOutcome {
        guard let system else {
            return TrustOutcome(
                store: "System store", kind: .couldNot,
                detail: "neither update-ca-certificates (Debian, Ubuntu) nor update-ca-trust (Fedora) is on this "
                    + "machine; add \(certificatePath) to the system's trust store by hand.")
        }
        let store = "System store (\(system.anchorFolder))"
        let anchor = system.anchorPath
        var manual = Self.sudo + Self.shellCommand(["cp", certificatePath, anchor])
        if !system.updateCommand.isEmpty { manual += " && " + Self.sudo + Self.shellCommand(system.updateCommand) }

        if CertificateFiles.read(anchor) == certificatePEM {
            return TrustOutcome(store: store, kind: .alreadyDone, detail: "already trusted (\(anchor)).")
        }
        _ = mkdir(system.anchorFolder, 0o755)  // the folder itself only: a missing parent means a wrong path
        if let failure = CertificateFiles.write(certificatePEM, to: anchor, mode: 0o644) {
            return TrustOutcome(
                store: store, kind: .couldNot, detail: "could not write \(anchor) (\(failure)); run: \(manual)")
        }
        if let failure = runUpdateCommand(system) {
            // Taken back out, so the next run tries again rather than saying "already trusted".
            unlink(anchor)
            return TrustOutcome(store: store, kind: .couldNot, detail: "\(failure); run: \(manual)")
        }
        let ran = system.updateCommand.isEmpty ? "" : " and ran \(Self.shellCommand(system.updateCommand))"
        return TrustOutcome(store: store, kind: .done, detail: "installed \(anchor)\(ran).")
    }

    /// Deletes the anchor file and runs the update command.
    func uninstallSystemAnchor() -> TrustOutcome {
        guard let system else {
            return TrustOutcome(
                store: "System store", kind: .notApplicable,
                detail: "none recognised (no update-ca-certificates or update-ca-trust), nothing to remove.")
        }
        let store = "System store (\(system.anchorFolder))"
        let anchor = system.anchorPath
        let update = system.updateCommand.isEmpty ? "" : Self.sudo + Self.shellCommand(system.updateCommand)
        guard TrustFiles.exists(anchor) else {
            return TrustOutcome(store: store, kind: .alreadyDone, detail: "not installed, nothing to remove.")
        }
        guard unlink(anchor) == 0 else {
            let reason = String(cString: strerror(errno))
            let manual = Self.sudo + Self.shellCommand(["rm", "-f", anchor]) + (update.isEmpty ? "" : " && " + update)
            return TrustOutcome(
                store: store, kind: .couldNot, detail: "could not remove \(anchor) (\(reason)); run: \(manual)")
        }
        if let failure = runUpdateCommand(system) {
            return TrustOutcome(
                store: store, kind: .couldNot, detail: "removed \(anchor), but \(failure); run: \(update)")
        }
        let ran = update.isEmpty ? "" : " and ran \(Self.shellCommand(system.updateCommand))"
        return TrustOutcome(store: store, kind: .done, detail: "removed \(anchor)\(ran).")
    }

    /// Runs the store's update command: nil when it succeeded (or there is none), else what went wrong.
    private func runUpdateCommand(_ system: SystemStore) -> String? {
        guard let name = system.updateCommand.first else { return nil }
        let shown = Self.shellCommand(system.updateCommand)
        guard let path = ProgramRunner.find(name, in: searchFolders) else { return "\(name) is not installed" }
        do {
            let finished = try ProgramRunner.run([path] + system.updateCommand.dropFirst())
            guard finished.status == 0 else {
                return "\(shown) failed (exit status \(finished.status)): \(Self.lastLine(of: finished.output))"
            }
            return nil
        } catch {
            return "\(shown) could not start (\(error.reason))"
        }
    }

    /// The last non-empty line a program printed, usually the one saying what went wrong.
    static func lastLine(of output: String) -> String {
        let line = output.split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }
        return line.map { String($0.trimmingSpaces()) } ?? "no message"
    }
}
