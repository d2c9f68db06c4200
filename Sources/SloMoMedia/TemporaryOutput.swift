import Foundation

/// A file that appears at its destination only once complete. It is written under a hidden name
/// in the destination's directory, so that the final rename is atomic (same file system), and it
/// is removed if it is never published, so a failed or abandoned write leaves nothing behind.
final class TemporaryOutput {
    let destination: String
    let temporaryPath: String
    private var settled = false

    init(destination: String) {
        let url = URL(fileURLWithPath: destination)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        self.destination = destination
        temporaryPath = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + "." + suffix + ".partial"
    }

    deinit { discard() }

    func publish() throws {
        guard rename(temporaryPath, destination) == 0 else {
            let reason = systemError()
            discard()
            throw MediaError.ioFailure(path: destination, reason: "cannot move the finished file into place: \(reason)")
        }
        settled = true
    }

    func discard() {
        guard !settled else { return }
        unlink(temporaryPath)
        settled = true
    }
}

func systemError() -> String { String(cString: strerror(errno)) }

func fileExtension(of path: String) -> String { URL(fileURLWithPath: path).pathExtension.lowercased() }
