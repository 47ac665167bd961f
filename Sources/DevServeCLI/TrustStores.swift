// Where `devserve trust` puts the local CA. Decided once from the environment, so process-level
// tests point every store at temp folders and never touch the real ones. Hidden overrides:
//   DEVSERVE_TRUST_SYSTEM_ANCHORS  the system anchor folder, instead of /usr/local/share/ca-certificates
//                                  (Debian family) or /etc/pki/ca-trust/source/anchors (Fedora family)
//   DEVSERVE_TRUST_UPDATE_COMMAND  the command that rebuilds the system bundle, split on spaces, instead of
//                                  `update-ca-certificates` or `update-ca-trust extract`. With the anchors
//                                  overridden and this unset, no update command runs at all.
//   HOME                           where NSS databases are searched (~/.pki/nssdb, Firefox profiles)
//   XDG_CONFIG_HOME                where Firefox 147+ keeps profiles.ini (mozilla/firefox), default ~/.config
//   PATH                           where certutil and the update command are found (plus the sbin folders)
import DevServeSystem
import DevServeTLS

#if canImport(Glibc)
    import Glibc
#endif

/// The stores `devserve trust` adds the local CA to or removes it from.
struct TrustStores: Sendable, Equatable {
    static let anchorsVariable = "DEVSERVE_TRUST_SYSTEM_ANCHORS"
    static let updateCommandVariable = "DEVSERVE_TRUST_UPDATE_COMMAND"
    /// The environment variables `init(environment:)` reads.
    static let environmentKeys = ["HOME", "PATH", "XDG_CONFIG_HOME", anchorsVariable, updateCommandVariable]

    /// The operating system's store: a folder of anchor files and the command that rebuilds the bundle.
    struct SystemStore: Sendable, Equatable {
        var anchorFolder: String
        /// The program (a name looked up in the search folders, or a path) and its arguments; empty for none.
        var updateCommand: [String]

        /// The one file `devserve trust` writes there.
        var anchorPath: String { Paths.join(anchorFolder, "devserve-local-ca.crt") }
    }

    /// One NSS database: its folder and the prefix certutil needs for its format.
    struct NSSDatabase: Sendable, Equatable {
        enum Format: String, Sendable { case sql, dbm }
        /// "Chromium" or "Firefox", for the report.
        var browser: String
        var folder: String
        var format: Format

        /// certutil's `-d` argument, e.g. `sql:/home/me/.pki/nssdb`.
        var argument: String { "\(format.rawValue):\(folder)" }
    }

    /// nil where no system store was recognised.
    var system: SystemStore?
    /// The home folder NSS databases are searched under; nil where HOME is unset.
    var home: String?
    /// XDG_CONFIG_HOME when set to an absolute path; nil means `~/.config`.
    var configHome: String?
    /// Where certutil and the update command are looked up.
    var searchFolders: [String]
    /// Under sudo, the invoking user: their NSS databases are left for them to change.
    var sudoUser: String?

    init(system: SystemStore?, home: String?, searchFolders: [String]) {
        self.system = system
        self.home = home
        self.searchFolders = searchFolders
    }

    /// The stores this machine has, after the overrides described at the top of this file.
    init(environment: [String: String]) {
        searchFolders = ProgramRunner.searchFolders(path: environment["PATH"])
        home = environment["HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        let updateOverride = environment[Self.updateCommandVariable].map {
            $0.split(separator: " ").map(String.init)
        }
        if let anchors = environment[Self.anchorsVariable], !anchors.isEmpty {
            system = SystemStore(anchorFolder: anchors, updateCommand: updateOverride ?? [])
            return
        }
        let families = [
            SystemStore(anchorFolder: "/usr/local/share/ca-certificates", updateCommand: ["update-ca-certificates"]),
            SystemStore(
                anchorFolder: "/etc/pki/ca-trust/source/anchors", updateCommand: ["update-ca-trust", "extract"]),
        ]
        let folders = searchFolders
        system = families.first { family in
            TrustFiles.isFolder(family.anchorFolder)
                || family.updateCommand.first.flatMap { ProgramRunner.find($0, in: folders) } != nil
        }
        if let updateOverride { system?.updateCommand = updateOverride }
    }

    /// certutil's path, or nil when libnss3-tools is not installed.
    var certutil: String? { ProgramRunner.find("certutil", in: searchFolders) }

    /// `~/.pki/nssdb`: Chromium's and Chrome's database on Linux, made by `trust` when missing.
    var sharedDatabaseFolder: String? { home.map { Paths.join($0, ".pki/nssdb") } }

    /// Every folder Firefox keeps profiles in: `$XDG_CONFIG_HOME/mozilla/firefox` (Firefox 147+),
    /// the legacy `~/.mozilla/firefox`, and snap's and flatpak's copies of both.
    var firefoxRoots: [String] {
        guard let home else { return [] }
        let config = configHome ?? Paths.join(home, ".config")
        return [Paths.join(config, "mozilla/firefox")]
            + [
                ".mozilla/firefox", "snap/firefox/common/.mozilla/firefox",
                "snap/firefox/common/.config/mozilla/firefox", ".var/app/org.mozilla.firefox/.mozilla/firefox",
                ".var/app/org.mozilla.firefox/config/mozilla/firefox",
            ].map { Paths.join(home, $0) }
    }

    /// Every Firefox profile folder: each `Path=` of each root's profiles.ini (relative to the root
    /// unless `IsRelative=0`) that exists, plus any folder in a root that already holds an NSS
    /// database; each folder once, however many names lead to it.
    func firefoxProfiles() -> [String] {
        var profiles: [String] = []
        for root in firefoxRoots {
            let ini = CertificateFiles.read(Paths.join(root, "profiles.ini")) ?? []
            for path in Self.profilePaths(ini: String(decoding: ini, as: UTF8.self)) {
                let folder = path.hasPrefix("/") ? path : Paths.join(root, path)
                // A profile deleted since profiles.ini was written is no profile.
                if TrustFiles.isFolder(folder) { profiles.append(folder) }
            }
            profiles += TrustFiles.subfolders(of: root).filter {
                TrustFiles.exists(Paths.join($0, "cert9.db"))
                    || TrustFiles.exists(Paths.join($0, "cert8.db"))
            }
        }
        var seen: Set<String> = []
        return profiles.filter { seen.insert(TrustFiles.realPath($0)).inserted }
    }

    /// The `Path=` of each `[Profile…]` section of a profiles.ini, absolute where `IsRelative=0`
    /// and the path is absolute, else as written (relative to the ini's folder).
    static func profilePaths(ini: String) -> [String] {
        var paths: [String] = []
        var inProfile = false
        var path: String?
        var relative = true
        func finish() {
            if inProfile, let path, !path.isEmpty, relative || path.hasPrefix("/") {
                paths.append(relative ? String(path.drop { $0 == "/" }) : path)
            }
            path = nil
            relative = true
        }
        for raw in ini.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingSpaces()
            if line.hasPrefix("[") {
                finish()
                inProfile = line.hasPrefix("[Profile")
            } else if let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimmingSpaces()
                let value = String(line[line.index(after: equals)...].trimmingSpaces())
                if key == "Path" { path = value }
                if key == "IsRelative" { relative = value != "0" }
            }
        }
        finish()
        return paths
    }

    /// Every NSS database under HOME: ~/.pki/nssdb, snap Chromium's, and each Firefox profile
    /// holding cert9.db (sql:) or the older cert8.db (dbm:).
    func nssDatabases() -> [NSSDatabase] {
        guard let home else { return [] }
        let candidates =
            [".pki/nssdb", "snap/chromium/current/.pki/nssdb"].map { ("Chromium", Paths.join(home, $0)) }
            + firefoxProfiles().map { ("Firefox", $0) }
        var seen: Set<String> = []
        return candidates.compactMap { browser, folder in
            guard seen.insert(TrustFiles.realPath(folder)).inserted else { return nil }
            if TrustFiles.exists(Paths.join(folder, "cert9.db")) {
                return NSSDatabase(browser: browser, folder: folder, format: .sql)
            }
            if TrustFiles.exists(Paths.join(folder, "cert8.db")) {
                return NSSDatabase(browser: browser, folder: folder, format: .dbm)
            }
            return nil
        }
    }

    /// Firefox profiles named in a profiles.ini that have no NSS database yet (Firefox never started there).
    func firefoxProfilesWithoutDatabase() -> [String] {
        firefoxProfiles().filter {
            !TrustFiles.exists(Paths.join($0, "cert9.db"))
                && !TrustFiles.exists(Paths.join($0, "cert8.db"))
        }
    }

    /// Adds the CA to the system store and every NSS database.
    func install(certificatePath: String, certificatePEM: [UInt8]) -> [TrustOutcome] {
        [installSystemAnchor(certificatePath: certificatePath, certificatePEM: certificatePEM)]
            + installInNSS(certificatePath: certificatePath, nickname: Self.nickname(certificatePEM: certificatePEM))
    }

    /// Removes the CA from the system store and, when its PEM is known, from every NSS database.
    func uninstall(certificatePEM: [UInt8]?) -> [TrustOutcome] {
        [uninstallSystemAnchor()] + uninstallFromNSS(nickname: certificatePEM.map { Self.nickname(certificatePEM: $0) })
    }

    /// The CA's nickname in NSS databases: fixed words plus a hash of the certificate, so each CA has
    /// its own name and `--uninstall` removes exactly this one. The hash is FNV-1a (64 bits) of the
    /// PEM's base64 text, a stable label rather than a security fingerprint.
    static func nickname(certificatePEM: [UInt8]) -> String {
        let text = String(decoding: certificatePEM, as: UTF8.self)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("-----") {
            for byte in line.utf8 where byte > 0x20 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        let hex = String(hash, radix: 16)
        return "devserve local CA " + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// `sudo ` when not root: the prefix for commands the report asks a user to run.
    static var sudo: String { geteuid() == 0 ? "" : "sudo " }

    /// `arguments` as one line a shell runs as they are: plain words bare, others single-quoted.
    static func shellCommand(_ arguments: [String]) -> String {
        arguments.map { word in
            let plain =
                !word.isEmpty
                && word.utf8.allSatisfy { byte in
                    ASCII.isDigit(byte) || ASCII.isLetter(byte)
                        || "/._-:,=+@%".utf8.contains(byte)
                }
            return plain ? word : "'" + word.replacing("'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
