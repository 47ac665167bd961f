import ArgumentParser
import DevServeTLS

#if canImport(Glibc)
    import Glibc
#endif

/// `devserve cert`: create or renew the local CA and the `certs/` leaf of the current folder.
public struct CertCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Create or renew the local CA and certs/localhost.pem + certs/localhost-key.pem.",
        discussion: """
            The CA lives in $XDG_DATA_HOME/devserve/ (else ~/.local/share/devserve/), outside every \
            project; the leaf covers localhost, 127.0.0.1 and ::1, plus each --name, and keeps the \
            names it already has. Give each host name exactly (--name app.localhost); a wildcard needs \
            two labels above localhost (*.app.localhost), since Firefox rejects *.localhost. Names \
            must be localhost names and addresses loopback or private: the CA may sign nothing else.
            """
    )

    @Option(
        name: .customLong("name"),
        help: ArgumentHelp(
            "An extra name (app.localhost) or IP address for the certificate (repeatable).", valueName: "n"))
    public var names: [String] = []

    public init() {}

    public func run() throws {
        let invoker = SudoInvoker.current()
        let folder = try CertificateAuthority.defaultFolder(
            environment: ProcessEnvironment.caEnvironment(invoker: invoker))
        let authority = try SudoInvoker.localCA(in: folder, invoker: invoker)
        let addresses = names.filter { $0.contains(":") || $0.allSatisfy { $0.isNumber || $0 == "." } }
        let hostNames = names.filter { !addresses.contains($0) }
        try invoker?.checkLeafFolder(certificatePath: "certs/localhost.pem")
        let status = try authority.withLock { () throws(TLSError) in
            try authority.ensureLeaf(
                certPath: "certs/localhost.pem", keyPath: "certs/localhost-key.pem", names: hostNames,
                ipAddresses: addresses)
        }
        invoker?.takeLeaf(status, certificatePath: "certs/localhost.pem", keyPath: "certs/localhost-key.pem")
        let what: String
        switch status {
        case .created: what = "created"
        case .renewed: what = "renewed"
        case .current: what = "current, left as it is"
        }
        let covered = authority.namesInLeaf(at: "certs/localhost.pem").joined(separator: ", ")
        print("Local CA: \(authority.certificatePath)" + (authority.isNew ? " (new: \(TLSLaunch.untrustedCA))" : ""))
        print("Certificate: certs/localhost.pem (\(what)) for \(covered)")
        let ignored = access("certs/.gitignore", F_OK) == 0
        print(
            "Key: certs/localhost-key.pem (mode 0600, never served"
                + (ignored ? "; certs/.gitignore keeps certs/ out of git)" : "; keep certs/ out of version control)"))
    }
}
