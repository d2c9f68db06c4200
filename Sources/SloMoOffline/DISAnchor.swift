import Foundation

/// The classical anchor the issue measures against: ../shared/bench/dis_slomo.py (OpenCV's DIS flow,
/// medium preset, with Super SloMo's fusion), run as a whole process on the same input, as the benchmark
/// runs minterpolate. `command` is the interpreter and script, run by /bin/sh, so a user can name the
/// Python that has OpenCV.
struct DISAnchor {
    struct Failure: Error, CustomStringConvertible {
        let command: String
        let message: String
        var description: String { "\(command) failed: \(message)" }
    }

    var command: String

    /// Nil when the anchor runs (its --help, which needs NumPy and OpenCV imported); else why not.
    func unavailableReason() -> String? {
        do {
            _ = try run(["--help"])
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Interpolates a yuv420p Y4M ×`scale`; returns the wall time in seconds.
    func interpolate(input: String, output: String, scale: Int) throws -> Double {
        try run([input, output, "--scale", "\(scale)", "--preset", "medium"])
    }

    private func run(_ arguments: [String]) throws -> Double {
        // The arguments travel as the shell's positional parameters, unquoted by nothing.
        let result = try TimedProcess.run("/bin/sh", ["-c", command + " \"$@\"", "sh"] + arguments)
        guard result.status == 0 else {
            let lines = result.errors.split(separator: "\n")
            throw Failure(command: command, message: lines.last.map(String.init) ?? "exit status \(result.status)")
        }
        return result.seconds
    }
}
