import ArgumentParser
import DevServeCLI

/// The executable only names the entry point; everything else lives in DevServeCLI.
@main
enum DevServe {
    static func main() async {
        if let help = DevServeCommand.rootHelp(for: Array(CommandLine.arguments.dropFirst())) {
            print(help)
            return
        }
        await DevServeCommand.main()
    }
}
