/// Number formatting for the suite's table (no locale: the same text everywhere).
public enum Format {
    /// 12345.6 → "12,346"
    public static func count(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        let digits = String(Int(value.rounded()))
        var grouped = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0 && index % 3 == 0 && character != "-" { grouped.append(",") }
            grouped.append(character)
        }
        return String(grouped.reversed())
    }

    /// 1.23456 → "1.23" (two decimals by default; `places` 0 rounds to a whole number)
    public static func decimal(_ value: Double, places: Int = 2) -> String {
        guard value.isFinite else { return "–" }
        var scale = 1
        for _ in 0..<max(0, places) { scale *= 10 }
        let scaled = Int((abs(value) * Double(scale)).rounded())
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard places > 0 else { return sign + String(scaled) }
        let fraction = String(scaled % scale)
        return sign + "\(scaled / scale)." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    /// "12,346 (11,800–12,900)" for repeated samples, the value alone for one.
    public static func rate(_ samples: Samples) -> String {
        guard let median = samples.median, let low = samples.minimum, let high = samples.maximum else { return "–" }
        if samples.values.count == 1 { return count(median) }
        return "\(count(median)) (\(count(low))–\(count(high)))"
    }

    /// "1.23 (1.10–1.40)" for repeated samples, the value alone for one.
    public static func decimal(_ samples: Samples) -> String {
        guard let median = samples.median, let low = samples.minimum, let high = samples.maximum else { return "–" }
        if samples.values.count == 1 { return decimal(median) }
        return "\(decimal(median)) (\(decimal(low))–\(decimal(high)))"
    }

    /// ours / reference as "0.85×"
    public static func ratio(_ ours: Samples, _ reference: Samples) -> String {
        guard let a = ours.median, let b = reference.median, b > 0 else { return "–" }
        return decimal(a / b) + "×"
    }

    public static func padded(_ text: String, _ width: Int, right: Bool = false) -> String {
        let gap = String(repeating: " ", count: max(0, width - text.count))
        return right ? gap + text : text + gap
    }
}
