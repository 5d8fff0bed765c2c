/// The number grammar of the command line: plain ASCII decimal notation only.
///
/// Swift's own `Int(_:)` and `Double(_:)` accept `+7`, `0x1p3`, `1e999` (infinity),
/// `nan` and `inf`; a command that passed those on would trap converting them or
/// hand the server a value it refuses. Here a number is `-?[0-9]+` with, for
/// decimals, an optional `.[0-9]+` — anything else is not a number.
enum StrictNumber {
    static func integer(_ text: String) -> Int? {
        guard isDigits(text.utf8.first == UInt8(ascii: "-") ? text.utf8.dropFirst() : text.utf8[...]) else {
            return nil
        }
        return Int(text)  // nil when too large for Int
    }

    /// A finite decimal; nil for anything outside the grammar.
    static func decimal(_ text: String) -> Double? {
        var body = text.utf8[...]
        if body.first == UInt8(ascii: "-") { body = body.dropFirst() }
        let parts = body.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.allSatisfy(isDigits), let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// `86400` rather than `86400.0`, `0.001` as is.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private static func isDigits(_ bytes: Substring.UTF8View) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}
