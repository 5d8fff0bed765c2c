/// Builds a Prometheus text exposition (format 0.0.4) from values read at scrape
/// time, so the queue can be monitored without a metrics library dependency.
///
/// Samples of one metric name are grouped under a single HELP/TYPE header, in the
/// order names were first used. Names are made valid rather than rejected (invalid
/// characters become `_`): a metrics endpoint should never take a worker down.
public struct PrometheusText: Sendable {
    public enum MetricType: String, Sendable {
        case counter, gauge, histogram
    }

    /// Observations sorted into buckets by upper bound (`le`), kept per bucket and
    /// made cumulative only when rendered.
    public struct Histogram: Sendable, Equatable {
        /// Finite, ascending, distinct; the `+Inf` bucket is implicit.
        public let upperBounds: [Double]
        /// Per-bucket (not cumulative) counts; the last entry is the `+Inf` bucket.
        public private(set) var bucketCounts: [UInt64]
        public private(set) var sum: Double = 0

        public var count: UInt64 { bucketCounts.reduce(0, +) }

        /// Non-finite bounds are dropped, the rest sorted and deduplicated.
        public init(upperBounds: [Double]) {
            self.upperBounds = Array(Set(upperBounds.filter(\.isFinite))).sorted()
            bucketCounts = Array(repeating: 0, count: self.upperBounds.count + 1)
        }

        /// Counts `value` in the first bucket whose bound is `>= value`. NaN is
        /// ignored: it would poison `_sum` for good.
        public mutating func observe(_ value: Double) {
            guard !value.isNaN else { return }
            let index = upperBounds.firstIndex(where: { value <= $0 }) ?? upperBounds.count
            bucketCounts[index] += 1
            sum += value
        }
    }

    private struct Family: Sendable {
        let name: String
        let help: String
        let type: MetricType
        var lines: [String] = []
    }

    private var families: [Family] = []
    private var familyIndex: [String: Int] = [:]

    public init() {}

    public mutating func counter(
        _ name: String, help: String, value: Double, labels: KeyValuePairs<String, String> = [:]
    ) {
        let name = Self.metricName(name)
        let labels = Self.labelPairs(labels)
        append(to: name, help: help, type: .counter, lines: [Self.sample(name, labels, Self.format(value))])
    }

    public mutating func gauge(
        _ name: String, help: String, value: Double, labels: KeyValuePairs<String, String> = [:]
    ) {
        let name = Self.metricName(name)
        let labels = Self.labelPairs(labels)
        append(to: name, help: help, type: .gauge, lines: [Self.sample(name, labels, Self.format(value))])
    }

    /// A user label named `le` is dropped: the format reserves it for bucket bounds.
    public mutating func histogram(
        _ name: String, help: String, _ histogram: Histogram, labels: KeyValuePairs<String, String> = [:]
    ) {
        let name = Self.metricName(name)
        let labels = Self.labelPairs(labels).filter { $0.name != "le" }
        var lines: [String] = []
        var cumulative: UInt64 = 0
        for (index, count) in histogram.bucketCounts.enumerated() {
            cumulative += count
            let bound = index < histogram.upperBounds.count ? Self.format(histogram.upperBounds[index]) : "+Inf"
            lines.append(Self.sample(name + "_bucket", labels + [(name: "le", value: bound)], "\(cumulative)"))
        }
        lines.append(Self.sample(name + "_sum", labels, Self.format(histogram.sum)))
        lines.append(Self.sample(name + "_count", labels, "\(cumulative)"))
        append(to: name, help: help, type: .histogram, lines: lines)
    }

    /// The exposition, one line per HELP, TYPE and sample, newline-terminated.
    public func render() -> String {
        var output = ""
        for family in families {
            output += "# HELP \(family.name) \(Self.escapeHelp(family.help))\n"
            output += "# TYPE \(family.name) \(family.type.rawValue)\n"
            for line in family.lines { output += line + "\n" }
        }
        return output
    }

    /// Adds samples to the family `name`. A sample whose type contradicts the
    /// family's first declaration is dropped: emitting it would make the whole
    /// exposition invalid, losing every other metric with it.
    private mutating func append(to name: String, help: String, type: MetricType, lines: [String]) {
        if let index = familyIndex[name] {
            guard families[index].type == type else { return }
            families[index].lines += lines
        } else {
            familyIndex[name] = families.count
            families.append(Family(name: name, help: help, type: type, lines: lines))
        }
    }

    // MARK: - Text rules

    private static func sample(_ name: String, _ labels: [(name: String, value: String)], _ value: String) -> String {
        guard !labels.isEmpty else { return "\(name) \(value)" }
        let rendered = labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",")
        return "\(name){\(rendered)} \(value)"
    }

    /// Sanitized label names, first occurrence winning over duplicates.
    private static func labelPairs(_ labels: KeyValuePairs<String, String>) -> [(name: String, value: String)] {
        var seen: Set<String> = []
        var pairs: [(name: String, value: String)] = []
        for (name, value) in labels {
            let name = labelName(name)
            if seen.insert(name).inserted { pairs.append((name, value)) }
        }
        return pairs
    }

    /// Integral values print without a fraction (`3`, not `3.0`); others use
    /// Swift's shortest round-tripping form, which Prometheus parses.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func escapeLabelValue(_ value: String) -> String {
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// HELP text escapes only backslash and newline (quotes stay as they are).
    static func escapeHelp(_ help: String) -> String {
        var escaped = ""
        for scalar in help.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, invalid characters replaced by `_`.
    static func metricName(_ name: String) -> String {
        sanitize(name, allowColon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, invalid characters replaced by `_`.
    static func labelName(_ name: String) -> String {
        sanitize(name, allowColon: false)
    }

    private static func sanitize(_ name: String, allowColon: Bool) -> String {
        guard !name.isEmpty else { return "_" }
        var result = ""
        for (offset, scalar) in name.unicodeScalars.enumerated() {
            let value = scalar.value
            let letter =
                (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value) || value == 0x5F
                || (allowColon && value == 0x3A)
            let digit = (0x30...0x39).contains(value)
            result.unicodeScalars.append(letter || (digit && offset > 0) ? scalar : "_")
        }
        return result
    }
}
