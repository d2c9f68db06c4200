/// An exact ratio, used for frame rates and time bases.
public struct Rational: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var numerator: Int
    public var denominator: Int
    public init(_ numerator: Int, _ denominator: Int = 1) {
        precondition(denominator != 0, "a rational needs a non-zero denominator")
        let sign = denominator < 0 ? -1 : 1
        let divisor = Rational.gcd(abs(numerator), abs(denominator))
        self.numerator = sign * numerator / max(divisor, 1)
        self.denominator = sign * denominator / max(divisor, 1)
    }
    public var doubleValue: Double { Double(numerator) / Double(denominator) }
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
    public static func * (lhs: Rational, rhs: Int) -> Rational { Rational(lhs.numerator * rhs, lhs.denominator) }
    public static func / (lhs: Rational, rhs: Int) -> Rational { Rational(lhs.numerator, lhs.denominator * rhs) }

    /// Nearest rational with a small denominator, for rates given as decimals ("29.97").
    public static func approximating(_ value: Double) -> Rational {
        for denominator in [1, 1001, 1000, 100] {
            let numerator = (value * Double(denominator)).rounded()
            if abs(numerator / Double(denominator) - value) < 1e-3 * max(1, value) / 10 {
                return Rational(Int(numerator), denominator)
            }
        }
        return Rational(Int((value * 1000).rounded()), 1000)
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
