/// slomo's version: the one place it is written. `slomo --version`, `slomod --version`,
/// `slomoctl --version`, the control protocol's `version` reply and the Debian package
/// (scripts/build-deb.sh asks the built `slomod --version`) all read it from here.
public enum SloMoVersion {
    public static let current = "0.2.0"
}
