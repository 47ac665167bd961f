import ArgumentParser

/// `devserve`: the root command. Serving is the default; `cert` and `trust` join it with HTTPS.
public struct DevServeCommand: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "devserve",
        abstract: "Serve a folder for front-end development: correct HTTP, secure defaults, live reload.",
        discussion: ServeCommand.configuration.discussion,
        version: version,
        subcommands: [ServeCommand.self, CertCommand.self, TrustCommand.self],
        defaultSubcommand: ServeCommand.self
    )

    public init() {}
}
