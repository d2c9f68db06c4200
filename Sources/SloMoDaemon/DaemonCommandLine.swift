/// slomod's command line, driven by the same key table as the configuration file, so every
/// setting has a flag and `--help` documents them all.
public enum DaemonCommandLine {
    public enum Action: Equatable {
        case run(configFile: String?, overrides: [Override])
        /// Load and check the configuration, print it as TOML and exit.
        case check(configFile: String?, overrides: [Override])
        case help
        case version
        /// Print a manual page or a shell's completion script (for packaging) and exit.
        case manual(page: String)
        case completionScript(shell: String)
    }

    public struct Override: Equatable, Sendable {
        public var flag: String
        public var value: String
        public init(flag: String, value: String) {
            self.flag = flag
            self.value = value
        }
    }

    public static func parse(_ arguments: [String]) throws -> Action {
        var configFile: String?
        var overrides: [Override] = []
        var check = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "-h", "--help": return .help
            case "--version": return .version
            case "--check-config": check = true; continue
            case "--generate-manual":
                let page = try takeValue(for: argument, arguments, &index)
                guard DaemonManual.page(page) != nil else {
                    throw ConfigError(origin: argument, key: nil, message: "no page '\(page)' (one of \(DaemonManual.pages.joined(separator: ", ")))")
                }
                return .manual(page: page)
            case "--generate-completion-script":
                let shell = try takeValue(for: argument, arguments, &index)
                guard DaemonManual.completionScript(shell) != nil else {
                    throw ConfigError(origin: argument, key: nil, message: "no shell '\(shell)' (one of \(DaemonManual.shells.joined(separator: ", ")))")
                }
                return .completionScript(shell: shell)
            default: break
            }
            guard argument.hasPrefix("--") else {
                throw ConfigError(origin: "command line", key: nil, message: "unexpected argument '\(argument)' (options start with --)")
            }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if name == "config" || name == "c" {
                configFile = try value ?? takeValue(for: argument, arguments, &index)
                continue
            }
            if let key = DaemonConfig.keys.first(where: { $0.flag == name }) {
                if key.kind == .bool, value == nil {
                    overrides.append(Override(flag: name, value: "true"))
                } else {
                    overrides.append(Override(flag: name, value: try value ?? takeValue(for: argument, arguments, &index)))
                }
            } else if name.hasPrefix("no-"), let key = DaemonConfig.keys.first(where: { $0.flag == name.dropFirst(3) && $0.kind == .bool }),
                      value == nil {
                overrides.append(Override(flag: key.flag, value: "false"))
            } else {
                throw ConfigError(origin: "--\(name)", key: nil, message: "unknown option (see --help)")
            }
        }
        return check ? .check(configFile: configFile, overrides: overrides) : .run(configFile: configFile, overrides: overrides)
    }

    private static func takeValue(for flag: String, _ arguments: [String], _ index: inout Int) throws -> String {
        guard index < arguments.count else {
            throw ConfigError(origin: flag, key: nil, message: "needs a value")
        }
        index += 1
        return arguments[index - 1]
    }

    public static var help: String {
        var text = """
            slomod \(Daemon.version): live frame-rate upconversion on Vulkan compute.

            Captures frames (a V4L2 camera or the built-in test pattern), synthesises the frames in
            between on the GPU, and writes a smoother, higher-rate stream to a v4l2loopback device,
            a DRM display, a file or nowhere, each frame at most the latency budget after its capture.
            Steered live over a Unix socket with slomoctl; reload with SIGHUP, stop with SIGTERM.

            USAGE: slomod [--config FILE] [OPTIONS]

            Every setting can be given in the TOML file (key shown in brackets) or as an option;
            options win. Booleans take --NAME, --no-NAME or --NAME=true|false.

              -c, --config FILE        Configuration file (see /etc/slomod/*.toml).
              --check-config           Check the configuration, print it as TOML, and exit.
              -h, --help               Show this help.
              --version                Show the version.
              --generate-manual PAGE   Print the manual page slomod.8 or slomod.toml.5 and exit.
              --generate-completion-script SHELL
                                       Print the bash, zsh or fish completion script and exit.

            """
        var section = ""
        for key in DaemonConfig.keys {
            let table = key.path.contains(".") ? String(key.path.split(separator: ".")[0]) : "general"
            if table != section {
                text += "\n\(table.uppercased()):\n"
                section = table
            }
            let left = "  --\(key.flag) \(key.kind == .bool ? "[\(key.placeholder)]" : key.placeholder)"
            var help = key.help
            if case let .choice(options) = key.kind, options.count <= 8 { help += " One of: \(options.joined(separator: ", "))." }
            let shown = key.show(DaemonConfig())
            help += " [\(key.path)] (default: \(shown.isEmpty ? "\"\"" : shown))"
            text += left.padding(toLength: max(left.count + 2, 27)) + wrap(help, indent: 27) + "\n"
        }
        text += """

            EXAMPLES:
              slomod --input testpattern --output file:/tmp/out.y4m --scale 2 --socket /tmp/slomod.sock
              slomod --input /dev/video0 --output /dev/video10 --scale 2 --socket /tmp/slomod.sock
              slomod --config /etc/slomod/cam0.toml --instance cam0

            SIGNALS: SIGTERM, SIGINT: drain and stop. SIGHUP: reload the configuration file (the
            running one is kept if the new one is invalid).
            """
        return text + "\n"
    }

    private static func wrap(_ text: String, indent: Int, width: Int = 100) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && indent + line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        lines.append(line)
        return lines.joined(separator: "\n" + String(repeating: " ", count: indent))
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
