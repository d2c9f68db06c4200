import ArgumentParser
import Foundation
import SloMoCore
import SloMoDaemon

// Argument parsing and wiring only: requests and replies live in SloMoDaemon.ControlClient.
struct SlomoCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slomoctl",
        abstract: "Control a running slomod over its Unix socket.",
        discussion: """
            COMMANDS:
              status              What runs: input, output, rates, mode, budget.
              stats               Counters: captured, synthesised, delivered, late, dropped, latency, GPU time.
              set KEY VALUE       Change a setting live: scale, output_rate, mode, preset, adaptive,
                                  latency_budget_ms, log_level (e.g. `set scale 4`).
              pause | resume      Pass real frames through without interpolating, or interpolate again.
              reload              Re-read the daemon's configuration file.
              snapshot FILE.png   Save the frame on the output now as a PNG (written by the daemon).
              version             The daemon's version.
            Exits non-zero with one line on stderr when the daemon is unreachable or answers with an error.
            """,
        version: SloMoVersion.current)

    @Option(help: "Control socket (default: /run/slomod/<instance>.sock).") var socket: String?
    @Option(help: "Instance whose default socket to use.") var instance = "default"
    @Flag(help: "Print the daemon's JSON reply instead of text.") var json = false
    @Option(help: "Seconds to wait for the daemon.") var timeout = 5.0
    @Argument(help: "status, stats, set, pause, resume, reload, snapshot or version.") var command: String
    @Argument(help: "The command's arguments.") var arguments: [String] = []

    func run() throws {
        do {
            let request = try ControlClient.request(command: command, arguments: arguments,
                                                    workingDirectory: FileManager.default.currentDirectoryPath)
            let client = try ControlClient(path: socket ?? "/run/slomod/\(instance).sock", timeoutSeconds: timeout)
            let reply = try client.send(request)
            if json {
                print(reply.serialized)
            }
            let result = try ControlClient.result(of: reply)
            if !json { print(ControlClient.humanReadable(result), terminator: "") }
        } catch let error as ControlClientError {
            FileHandle.standardError.write(Data("slomoctl: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

SlomoCtl.main()
