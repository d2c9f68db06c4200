import Foundation

/// The three tools in one binary: installed as `slomo`, with `slomod` and `slomoctl` linked to it,
/// a capture box carries the statically linked Swift runtime and ICU's data once, not three times.
/// The name it was started by picks the tool.
public enum Tool {
    public static func main() {
        switch URL(fileURLWithPath: CommandLine.arguments.first ?? "slomo").lastPathComponent {
        case "slomod": Slomod.main()
        case "slomoctl": SlomoCtl.main()
        default: Slomo.main()
        }
    }
}
