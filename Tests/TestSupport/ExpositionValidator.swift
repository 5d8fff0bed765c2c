/// A small checker for the Prometheus text format 0.0.4, strict where our renderer
/// must be: every sample line is `name{labels} value`, its family's TYPE comes
/// first, and histogram buckets are cumulative, ascending and end at `+Inf` with a
/// matching `_count`.
public enum ExpositionValidator {
    public struct Invalid: Error, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    public struct Sample: Sendable {
        public let name: String
        public let labels: [String: String]
        public let value: Double
    }

    /// Validates `text`; returns how many metric families it declares.
    @discardableResult
    public static func validate(_ text: String) throws -> Int {
        guard text.isEmpty || text.hasSuffix("\n") else { throw Invalid(line: 0, message: "no final newline") }
        var types: [String: String] = [:]
        var sampled: Set<String> = []
        var histograms: [String: [String: HistogramSeries]] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let number = index + 1
            if line.hasPrefix("#") {
                let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard words.count >= 3, words[1] == "TYPE" || words[1] == "HELP" else { continue }
                let name = String(words[2])
                guard isMetricName(name) else { throw Invalid(line: number, message: "bad name \(name)") }
                if words[1] == "TYPE" {
                    guard words.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(words[3])
                    else { throw Invalid(line: number, message: "bad TYPE line") }
                    guard types[name] == nil, !sampled.contains(name) else {
                        throw Invalid(line: number, message: "TYPE for \(name) repeated or after its samples")
                    }
                    types[name] = String(words[3])
                }
                continue
            }
            guard !line.isEmpty else { throw Invalid(line: number, message: "empty line") }
            let sample = try parseSample(line, number: number)
            let family = try familyName(of: sample.name, types: types, line: number)
            sampled.insert(family)
            if types[family] == "histogram" {
                var key = sample.labels
                key["le"] = nil
                let series = key.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                try histograms[family, default: [:]][series, default: HistogramSeries()]
                    .add(sample, family: family, line: number)
            }
        }
        for (family, series) in histograms {
            for (labels, histogram) in series {
                try histogram.check(name: "\(family){\(labels)}")
            }
        }
        return types.count
    }

    public static func samples(_ text: String) throws -> [Sample] {
        try text.split(separator: "\n").enumerated().filter { !$0.element.hasPrefix("#") }.map {
            try parseSample($0.element, number: $0.offset + 1)
        }
    }

    private struct HistogramSeries {
        var bounds: [Double] = []
        var counts: [Double] = []
        var count: Double?
        var sum: Double?

        mutating func add(_ sample: Sample, family: String, line: Int) throws {
            switch sample.name {
            case family + "_bucket":
                guard let le = sample.labels["le"], let bound = parseValue(le) else {
                    throw Invalid(line: line, message: "bucket without a numeric le")
                }
                guard count == nil, sum == nil else { throw Invalid(line: line, message: "bucket after _sum/_count") }
                if let last = bounds.last, bound <= last { throw Invalid(line: line, message: "le not ascending") }
                if let last = counts.last, sample.value < last {
                    throw Invalid(line: line, message: "bucket counts not cumulative")
                }
                bounds.append(bound)
                counts.append(sample.value)
            case family + "_sum": sum = sample.value
            case family + "_count": count = sample.value
            default: throw Invalid(line: line, message: "\(sample.name) in histogram \(family)")
            }
        }

        func check(name: String) throws {
            guard bounds.last == .infinity else { throw Invalid(line: 0, message: "\(name): no +Inf bucket") }
            guard sum != nil, let count else { throw Invalid(line: 0, message: "\(name): missing _sum or _count") }
            guard count == counts.last else { throw Invalid(line: 0, message: "\(name): _count differs from +Inf") }
        }
    }

    private static func familyName(of name: String, types: [String: String], line: Int) throws -> String {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if let type = types[base], type == "histogram" || type == "summary" { return base }
        }
        throw Invalid(line: line, message: "sample \(name) before any TYPE for it")
    }

    private static func parseSample(_ line: Substring, number: Int) throws -> Sample {
        var rest = line[...]
        let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
        guard isMetricName(name) else { throw Invalid(line: number, message: "bad metric name in \(line)") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let labelName = String(rest.prefix { $0 != "=" })
                guard isLabelName(labelName) else { throw Invalid(line: number, message: "bad label name") }
                rest = rest.dropFirst(labelName.count)
                guard rest.hasPrefix("=\"") else { throw Invalid(line: number, message: "expected =\"") }
                rest = rest.dropFirst(2)
                var value = ""
                while true {
                    guard let character = rest.first else { throw Invalid(line: number, message: "open label value") }
                    rest = rest.dropFirst()
                    if character == "\"" { break }
                    if character == "\\" {
                        switch rest.first {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Invalid(line: number, message: "bad escape")
                        }
                        rest = rest.dropFirst()
                    } else {
                        value.append(character)
                    }
                }
                guard labels.updateValue(value, forKey: labelName) == nil else {
                    throw Invalid(line: number, message: "duplicate label \(labelName)")
                }
                if rest.first == "," {
                    rest = rest.dropFirst()
                } else if rest.first != "}" {
                    throw Invalid(line: number, message: "expected , or }")
                }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Invalid(line: number, message: "no space before value") }
        let fields = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(fields.count), let value = parseValue(String(fields[0])),
            fields.count == 1 || Int64(fields[1]) != nil
        else { throw Invalid(line: number, message: "bad value in \(line)") }
        return Sample(name: name, labels: labels, value: value)
    }

    public static func parseValue(_ text: String) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: text.allSatisfy({ "0123456789+-.eE".contains($0) }) ? Double(text) : nil
        }
    }

    private static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOr("_:") else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOr("_:") || ("0"..."9").contains($0) }
    }

    private static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOr("_") else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOr("_") || ("0"..."9").contains($0) }
    }
}

extension Unicode.Scalar {
    fileprivate func isASCIILetterOr(_ extra: String) -> Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || extra.unicodeScalars.contains(self)
    }
}
