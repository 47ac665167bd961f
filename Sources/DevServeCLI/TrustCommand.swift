import ArgumentParser
import DevServeSystem
import DevServeTLS

#if canImport(Glibc)
    import Glibc
#endif

/// `devserve trust [--uninstall]`: add the local CA to (or remove it from) the system store and
/// every NSS database, one report line per store.
public struct TrustCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Trust the local CA in the system store and in Chromium's and Firefox's NSS databases.",
        discussion: """
            The system store is /usr/local/share/ca-certificates with update-ca-certificates (Debian, Ubuntu), \
            or /etc/pki/ca-trust/source/anchors with update-ca-trust (Fedora); it needs root, and without it \
            the command to run with sudo is printed. NSS databases (~/.pki/nssdb, made if missing, and every \
            Firefox profile) are changed with certutil from libnss3-tools. Running it again changes nothing. \
            Under sudo it trusts the invoking user's CA in the system store only. \
            It exits non-zero only when no store could be changed.
            """
    )

    @Flag(name: .customLong("uninstall"), help: "Remove the local CA from those stores instead.")
    public var uninstall = false

    public init() {}

    public func run() throws {
        // Under sudo: the invoking user's CA (the one their devserve signs with), in the system
        // store; their browsers' databases are theirs to change, without sudo.
        let invoker = SudoInvoker.current()
        let environment = ProcessEnvironment.caEnvironment(invoker: invoker, adding: TrustStores.environmentKeys)
        var stores = TrustStores(environment: environment)
        stores.sudoUser = invoker?.name
        let folder = try CertificateAuthority.defaultFolder(environment: environment)
        let outcomes: [TrustOutcome]
        if uninstall {
            // Never makes a CA: with none, only the system anchor (a fixed name) can be ours.
            let certificatePath = Paths.join(folder, "ca.pem")
            let certificatePEM = CertificateFiles.read(certificatePath)
            Console.write("Local CA: \(certificatePath)\(certificatePEM == nil ? " (none there)" : "")\n")
            outcomes = stores.uninstall(certificatePEM: certificatePEM)
        } else {
            let authority = try SudoInvoker.localCA(in: folder, invoker: invoker)
            guard let certificatePEM = CertificateFiles.read(authority.certificatePath) else {
                throw TLSError.caUnreadable(path: authority.certificatePath, reason: "it cannot be opened")
            }
            let nickname = TrustStores.nickname(certificatePEM: certificatePEM)
            Console.write("Local CA: \(authority.certificatePath) (\"\(nickname)\" in NSS databases)\n")
            outcomes = stores.install(certificatePath: authority.certificatePath, certificatePEM: certificatePEM)
        }
        Console.write(outcomes.map { $0.line + "\n" }.joined())
        if TrustOutcome.commandFailed(outcomes) {
            let what = uninstall ? "removed from" : "trusted in"
            Console.write("The local CA could not be \(what) any store: run the commands above.\n", to: .standardError)
            throw ExitCode.failure
        }
    }
}
