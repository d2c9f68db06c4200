import Foundation
import SloMoDaemon

// Argument parsing and wiring only: the daemon lives in SloMoDaemon.
do {
    switch try DaemonCommandLine.parse(Array(CommandLine.arguments.dropFirst())) {
    case .help:
        print(DaemonCommandLine.help, terminator: "")
    case .version:
        print("slomod \(Daemon.version)")
    case let .manual(page):
        print(DaemonManual.page(page) ?? "", terminator: "")
    case let .completionScript(shell):
        print(DaemonManual.completionScript(shell) ?? "", terminator: "")
    case let .check(configFile, overrides):
        print(try DaemonConfig.load(file: configFile, overrides: overrides).tomlText, terminator: "")
    case let .run(configFile, overrides):
        exit(try Daemon(configFile: configFile, overrides: overrides).run())
    }
} catch {
    // Under systemd (JOURNAL_STREAM set) the line gets journald's error priority.
    let prefix = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] == nil ? "" : "<3>"
    FileHandle.standardError.write(Data("\(prefix)slomod: error: \(error)\n".utf8))
    exit(1)
}
