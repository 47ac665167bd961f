import ArgumentParser

/// `devserve --help` leads with the serve options, since `devserve [ROOT]` is the command people
/// run; ArgumentParser would show only the list of subcommands. The text is put together from
/// ArgumentParser's own help for `serve` and for the root, so it stays in step with the flags.
extension DevServeCommand {
    /// The help to print instead of ArgumentParser's when the arguments ask for the root's help
    /// (`-h`, `--help` or `help` alone); nil for anything else, which ArgumentParser handles.
    public static func rootHelp(for arguments: [String], columns: Int? = nil) -> String? {
        guard arguments.count == 1, ["-h", "--help", "help"].contains(arguments[0]) else { return nil }
        let root = helpMessage(columns: columns).split(separator: "\n", omittingEmptySubsequences: false)
        let serve = helpMessage(for: ServeCommand.self, columns: columns)
            .split(separator: "\n", omittingEmptySubsequences: false)
        guard let usage = root.firstIndex(where: { $0.hasPrefix("USAGE:") }),
            let arguments = serve.firstIndex(where: { $0.hasPrefix("ARGUMENTS:") }),
            let subcommands = root.firstIndex(where: { $0.hasPrefix("SUBCOMMANDS:") })
        else { return nil }
        var options = serve[arguments...]
        while let last = options.last, last.isEmpty { options.removeLast() }
        let lines =
            root[..<usage] + ["USAGE: devserve [<root>] [<options>]", "       devserve <subcommand>", ""]
            + options + ["  --version               Show the version.", ""] + root[subcommands...]
        return lines.joined(separator: "\n")
    }
}
