import DevServeServer
import DevServeSite

/// NSS databases (Chromium's ~/.pki/nssdb, Firefox profiles), changed with certutil from libnss3-tools.
extension TrustStores {
    /// Under sudo: certutil as root would leave root-owned files in the user's databases.
    private func leftToUser(_ user: String, _ action: String) -> TrustOutcome {
        TrustOutcome(
            store: "NSS databases", kind: .notApplicable,
            detail: "left alone under sudo (they are \(user)'s): run \(invokedAs) trust without sudo to \(action) "
                + "\(user)'s browsers.")
    }

    /// The sentence for a machine without certutil.
    static func certutilMissing(_ databases: [NSSDatabase]) -> String {
        let found = databases.isEmpty ? "" : " (found: \(databases.map(\.folder).joined(separator: ", ")))"
        return "certutil is not installed, so Chromium and Firefox were left alone\(found); install libnss3-tools "
            + "(\(sudo)apt-get install libnss3-tools; nss-tools on Fedora), then run \(invokedAs) trust again."
    }

    /// Adds the CA, trusted for TLS servers (`C,,`), to every NSS database, making ~/.pki/nssdb first
    /// where it is missing: Chromium reads it, and mkcert makes it too.
    func installInNSS(certificatePath: String, nickname: String) -> [TrustOutcome] {
        if let sudoUser { return [leftToUser(sudoUser, "add the CA to")] }
        guard let sharedFolder = sharedDatabaseFolder else {
            return [
                TrustOutcome(store: "NSS databases", kind: .notApplicable, detail: "HOME is not set, none searched.")
            ]
        }
        var databases = nssDatabases()
        guard let certutil else {
            return [TrustOutcome(store: "NSS databases", kind: .couldNot, detail: Self.certutilMissing(databases))]
        }
        var outcomes: [TrustOutcome] = []
        var created: String?
        if !databases.contains(where: { $0.folder == sharedFolder }) {
            let shared = NSSDatabase(browser: "Chromium", folder: sharedFolder, format: .sql)
            var failure = TrustFiles.makeFolders(sharedFolder, mode: 0o700)
            if failure == nil {
                failure = Self.certutil(certutil, ["-N", "--empty-password", "-d", shared.argument])
            }
            if let failure {
                let manual =
                    Self.shellCommand(["mkdir", "-p", sharedFolder]) + " && "
                    + Self.shellCommand(["certutil", "-N", "--empty-password", "-d", shared.argument])
                outcomes.append(
                    TrustOutcome(
                        store: "Chromium NSS database \(sharedFolder)", kind: .couldNot,
                        detail: "could not create it (\(failure)); run: \(manual)"))
            } else {
                databases.insert(shared, at: 0)
                created = sharedFolder
            }
        }
        for database in databases {
            var outcome = install(
                in: database, certutil: certutil, certificatePath: certificatePath, nickname: nickname)
            if database.folder == created { outcome.detail = "created it, then " + outcome.detail }
            outcomes.append(outcome)
        }
        for profile in firefoxProfilesWithoutDatabase() {
            outcomes.append(
                TrustOutcome(
                    store: "Firefox profile \(profile)", kind: .notApplicable,
                    detail: "has no NSS database (cert9.db) yet: start Firefox once, then run \(invokedAs) trust again."
                ))
        }
        return outcomes
    }

    /// Deletes every certificate under `nickname` from every NSS database (certutil -D removes one
    /// at a time, so it repeats until none is left). A nil nickname: there is no CA, so none of ours.
    func uninstallFromNSS(nickname: String?) -> [TrustOutcome] {
        if let sudoUser { return [leftToUser(sudoUser, "remove the CA from")] }
        let databases = nssDatabases()
        guard let nickname else {
            return [
                TrustOutcome(
                    store: "NSS databases", kind: .alreadyDone,
                    detail: "there is no local CA, so none of ours to remove.")
            ]
        }
        guard !databases.isEmpty else {
            return [
                TrustOutcome(store: "NSS databases", kind: .notApplicable, detail: "none found, nothing to remove.")
            ]
        }
        guard let certutil else {
            return [TrustOutcome(store: "NSS databases", kind: .couldNot, detail: Self.certutilMissing(databases))]
        }
        return databases.map { database in
            let store = "\(database.browser) NSS database \(database.folder)"
            let delete = ["-D", "-d", database.argument, "-n", nickname]
            var removed = 0
            while removed < 16, Self.certutil(certutil, delete) == nil { removed += 1 }
            switch Self.trust(of: nickname, in: database, certutil: certutil) {
            case .absent where removed > 0:
                return TrustOutcome(store: store, kind: .done, detail: "removed \"\(nickname)\".")
            case .absent:
                return TrustOutcome(store: store, kind: .alreadyDone, detail: "not there, nothing to remove.")
            case .present, .unreadable:
                return TrustOutcome(
                    store: store, kind: .couldNot,
                    detail: "could not remove \"\(nickname)\"; run: \(Self.shellCommand(["certutil"] + delete))")
            }
        }
    }

    private func install(
        in database: NSSDatabase, certutil: String, certificatePath: String, nickname: String
    ) -> TrustOutcome {
        let store = "\(database.browser) NSS database \(database.folder)"
        let add = ["-A", "-d", database.argument, "-t", "C,,", "-n", nickname, "-i", certificatePath]
        let manual = Self.shellCommand(["certutil"] + add)
        switch Self.trust(of: nickname, in: database, certutil: certutil) {
        case .unreadable(let reason):
            return TrustOutcome(store: store, kind: .couldNot, detail: "could not read it (\(reason)); run: \(manual)")
        case .present(let flags)
        where flags.split(separator: ",", omittingEmptySubsequences: false).first?
            .contains("C") == true:
            return TrustOutcome(store: store, kind: .alreadyDone, detail: "already trusted (\"\(nickname)\").")
        case .present(let flags):
            let modify = ["-M", "-d", database.argument, "-t", "C,,", "-n", nickname]
            if let failure = Self.certutil(certutil, modify) {
                return TrustOutcome(
                    store: store, kind: .couldNot,
                    detail:
                        "could not trust \"\(nickname)\" (\(failure)); run: \(Self.shellCommand(["certutil"] + modify))"
                )
            }
            return TrustOutcome(
                store: store, kind: .done, detail: "trust of \"\(nickname)\" set to C,, (was \(flags)).")
        case .absent:
            if let failure = Self.certutil(certutil, add) {
                return TrustOutcome(
                    store: store, kind: .couldNot, detail: "could not add it (\(failure)); run: \(manual)")
            }
            return TrustOutcome(store: store, kind: .done, detail: "added \"\(nickname)\", trusted for websites (C,,).")
        }
    }

    /// What a database holds under a nickname.
    enum Listing: Equatable {
        case absent
        /// Present with these trust flags, e.g. `C,,`.
        case present(String)
        case unreadable(String)
    }

    /// Reads `certutil -L`, whose lines are the nickname, spaces, then the trust flags.
    static func trust(of nickname: String, in database: NSSDatabase, certutil: String) -> Listing {
        let listing: ProgramRunner.Finished
        do {
            listing = try ProgramRunner.run([certutil, "-L", "-d", database.argument])
        } catch {
            return .unreadable("certutil could not start: \(error.reason)")
        }
        guard listing.status == 0 else { return .unreadable(lastLine(of: listing.output)) }
        for line in listing.output.split(whereSeparator: \.isNewline) where line.hasPrefix(nickname) {
            let rest = line.dropFirst(nickname.count)
            let words = rest.split(whereSeparator: \.isWhitespace)
            if rest.first?.isWhitespace == true, words.count == 1 { return .present(String(words[0])) }
        }
        return .absent
    }

    /// Runs certutil: nil when it succeeded, else its last line of output.
    static func certutil(_ certutil: String, _ arguments: [String]) -> String? {
        do {
            let finished = try ProgramRunner.run([certutil] + arguments)
            return finished.status == 0 ? nil : lastLine(of: finished.output)
        } catch {
            return "certutil could not start: \(error.reason)"
        }
    }
}
