import ArgumentParser
import DevServeCLI

/// The executable only names the entry point; everything else lives in DevServeCLI.
@main
extension DevServeCommand {}
