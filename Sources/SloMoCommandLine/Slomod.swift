import Foundation
import SloMoDaemon

/// `slomod`: argument parsing and wiring only; the daemon lives in SloMoDaemon. Its command line
/// is the configuration table's (DaemonCommandLine), not ArgumentParser's.
public enum Slomod {
    public static func main() -> Never {
        do {
            switch try DaemonCommandLine.parse(Array(CommandLine.arguments.dropFirst())) {
            case .help:
                print(DaemonCommandLine.help, terminator: "")
            case .version:
                print(Daemon.version)  // bare, as slomo and slomoctl (ArgumentParser) print theirs
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
        exit(0)
    }
}
