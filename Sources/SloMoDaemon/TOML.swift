import Foundation

/// A strict parser for the part of TOML that slomod's configuration uses: `[table]` headers and
/// `key = value` pairs whose values are strings, integers, floats or booleans, with comments.
///
/// Why not LebJe/TOMLKit: it reports positions only for syntax errors, not for the keys and values
/// of a document that parses, so "unknown key" and "bad value" errors could not name their line;
/// it also compiles 17,000 lines of toml++ C++ on every clean build. Anything outside the subset
/// (arrays, inline tables, dotted keys, multi-line strings, dates) is an error naming its line.
public enum TOMLSubset {
    public struct Entry: Equatable, Sendable {
        /// The `[table]` the key is in; "" before any header.
        public var table: String
        public var key: String
        public var value: ConfigValue
        /// 1-based.
        public var line: Int
    }

    public static func parse(_ text: String, file: String) throws -> [Entry] {
        var entries: [Entry] = []
        var table = ""
        var seenTables: [String: Int] = [:]
        var seenKeys: [String: Int] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var scanner = LineScanner(Array((rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine).unicodeScalars),
                                      origin: "\(file):\(lineNumber)")
            scanner.skipSpace()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                scanner.advance()
                if scanner.peek == "[" { throw scanner.error("arrays of tables are not supported") }
                scanner.skipSpace()
                let name = try scanner.key()
                scanner.skipSpace()
                guard scanner.peek == "]" else { throw scanner.error("expected ']' after the table name") }
                scanner.advance()
                try scanner.expectLineEnd()
                if let first = seenTables[name] {
                    throw scanner.error("table [\(name)] defined twice (first at line \(first))")
                }
                seenTables[name] = lineNumber
                table = name
                continue
            }
            let key = try scanner.key()
            scanner.skipSpace()
            guard scanner.peek == "=" else { throw scanner.error("expected '=' after '\(key)'") }
            scanner.advance()
            scanner.skipSpace()
            let value = try scanner.value()
            try scanner.expectLineEnd()
            let path = table.isEmpty ? key : table + "." + key
            if let first = seenKeys[path] {
                throw scanner.error("\(path): defined twice (first at line \(first))")
            }
            seenKeys[path] = lineNumber
            entries.append(Entry(table: table, key: key, value: value, line: lineNumber))
        }
        return entries
    }
}

/// A configuration value as written: from TOML with its type, from the command line as text.
public enum ConfigValue: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)

    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .bool: return "a boolean"
        }
    }

    public var description: String {
        switch self {
        case let .string(value): return "\"\(value)\""
        case let .integer(value): return String(value)
        case let .float(value): return String(value)
        case let .bool(value): return String(value)
        }
    }
}

private struct LineScanner {
    let scalars: [Unicode.Scalar]
    let origin: String
    var index = 0

    init(_ scalars: [Unicode.Scalar], origin: String) {
        self.scalars = scalars
        self.origin = origin
    }

    var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }
    var atEndOrComment: Bool { peek == nil || peek == "#" }
    mutating func advance() { index += 1 }

    func error(_ message: String) -> ConfigError { ConfigError(origin: origin, key: nil, message: message) }

    mutating func skipSpace() {
        while peek == " " || peek == "\t" { advance() }
    }

    mutating func expectLineEnd() throws {
        skipSpace()
        guard atEndOrComment else { throw error("unexpected text after the value") }
    }

    static func isBare(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
    }

    mutating func key() throws -> String {
        let name: String
        if peek == "\"" {
            name = try basicString()
        } else if peek == "'" {
            name = try literalString()
        } else {
            var bare = String.UnicodeScalarView()
            while let c = peek, LineScanner.isBare(c) {
                bare.append(c)
                advance()
            }
            guard !bare.isEmpty else { throw error("expected a key") }
            name = String(bare)
        }
        skipSpace()
        if peek == "." { throw error("dotted keys are not supported; use a [table]") }
        return name
    }

    mutating func value() throws -> ConfigValue {
        guard let c = peek else { throw error("missing value") }
        switch c {
        case "\"":
            if scalars.count - index >= 3, scalars[index + 1] == "\"", scalars[index + 2] == "\"" {
                throw error("multi-line strings are not supported")
            }
            return .string(try basicString())
        case "'":
            if scalars.count - index >= 3, scalars[index + 1] == "'", scalars[index + 2] == "'" {
                throw error("multi-line strings are not supported")
            }
            return .string(try literalString())
        case "[": throw error("arrays are not supported")
        case "{": throw error("inline tables are not supported")
        default:
            var word = String.UnicodeScalarView()
            while let c = peek, c != " ", c != "\t", c != "#" {
                word.append(c)
                advance()
            }
            let text = String(word)
            if text == "true" { return .bool(true) }
            if text == "false" { return .bool(false) }
            if let number = LineScanner.number(text) { return number }
            throw error("invalid value '\(text)' (strings need quotes)")
        }
    }

    /// TOML integers (decimal, 0x, 0o, 0b; underscores between digits) and finite floats.
    static func number(_ text: String) -> ConfigValue? {
        let chars = Array(text)
        guard !chars.isEmpty else { return nil }
        // Underscores only between two digits.
        for (i, c) in chars.enumerated() where c == "_" {
            guard i > 0, i + 1 < chars.count, chars[i - 1].isHexDigit, chars[i + 1].isHexDigit else { return nil }
        }
        let plain = text.replacingOccurrences(of: "_", with: "")
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where plain.hasPrefix(prefix) {
            return Int(plain.dropFirst(2), radix: radix).map(ConfigValue.integer)
        }
        let unsigned = plain.first == "+" || plain.first == "-" ? String(plain.dropFirst()) : plain
        guard let first = unsigned.first, first.isNumber else { return nil }
        // Leading zeros are not TOML ("007").
        if unsigned.count > 1, first == "0", let second = unsigned.dropFirst().first, second.isNumber { return nil }
        if unsigned.allSatisfy(\.isNumber) { return Int(plain).map(ConfigValue.integer) }
        guard unsigned.allSatisfy({ $0.isNumber || "eE+-.".contains($0) }), let value = Double(plain), value.isFinite else {
            return nil
        }
        // TOML wants digits on both sides of the point.
        if let dot = unsigned.firstIndex(of: ".") {
            let after = unsigned.index(after: dot)
            guard after < unsigned.endIndex, unsigned[after].isNumber else { return nil }
        }
        return .float(value)
    }

    mutating func literalString() throws -> String {
        advance()
        var out = String.UnicodeScalarView()
        while let c = peek {
            advance()
            if c == "'" { return String(out) }
            out.append(c)
        }
        throw error("unterminated string")
    }

    mutating func basicString() throws -> String {
        advance()
        var out = String.UnicodeScalarView()
        while let c = peek {
            advance()
            switch c {
            case "\"": return String(out)
            case "\\":
                guard let escape = peek else { throw error("unterminated string") }
                advance()
                switch escape {
                case "b": out.append("\u{08}")
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "f": out.append("\u{0C}")
                case "r": out.append("\r")
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "u", "U":
                    let length = escape == "u" ? 4 : 8
                    guard scalars.count - index >= length,
                          let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + length])), radix: 16),
                          let scalar = Unicode.Scalar(code) else {
                        throw error("invalid \\\(escape) escape")
                    }
                    index += length
                    out.append(scalar)
                default: throw error("invalid escape '\\\(escape)'")
                }
            default:
                out.append(c)
            }
        }
        throw error("unterminated string")
    }
}
