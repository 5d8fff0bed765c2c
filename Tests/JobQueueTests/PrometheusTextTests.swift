import Foundation
import XCTest

@testable import JobQueue

final class PrometheusTextTests: XCTestCase {
    func testCounterGaugeAndHistogramRenderExactly() throws {
        var text = PrometheusText()
        text.counter(
            "jobs_completed_total", help: "Jobs finished successfully.", value: 42, labels: ["queue": "default"])
        text.counter("jobs_completed_total", help: "ignored: first help wins", value: 7, labels: ["queue": "mail"])
        text.gauge("queue_depth", help: "Jobs waiting.", value: 3.5)
        var durations = PrometheusText.Histogram(upperBounds: [1, 0.1, 10])
        for value in [0.0625, 0.5, 0.75, 5, 50] { durations.observe(value) }
        text.histogram("job_duration_seconds", help: "Run time.", durations, labels: ["queue": "default"])

        XCTAssertEqual(
            text.render(),
            """
            # HELP jobs_completed_total Jobs finished successfully.
            # TYPE jobs_completed_total counter
            jobs_completed_total{queue="default"} 42
            jobs_completed_total{queue="mail"} 7
            # HELP queue_depth Jobs waiting.
            # TYPE queue_depth gauge
            queue_depth 3.5
            # HELP job_duration_seconds Run time.
            # TYPE job_duration_seconds histogram
            job_duration_seconds_bucket{queue="default",le="0.1"} 1
            job_duration_seconds_bucket{queue="default",le="1"} 3
            job_duration_seconds_bucket{queue="default",le="10"} 4
            job_duration_seconds_bucket{queue="default",le="+Inf"} 5
            job_duration_seconds_sum{queue="default"} 56.3125
            job_duration_seconds_count{queue="default"} 5

            """)
        XCTAssertEqual(try ExpositionValidator.validate(text.render()), 3)
    }

    func testLabelValuesAndHelpAreEscaped() throws {
        var text = PrometheusText()
        text.gauge(
            "escaped", help: "Back\\slash, \"quotes\" and\nnewline.", value: -2,
            labels: ["path": #"C:\dir"#, "quote": #"say "hi""#, "multi": "line1\nline2", "unicode": "家电清洗"])
        XCTAssertEqual(
            text.render(),
            #"""
            # HELP escaped Back\\slash, "quotes" and\nnewline.
            # TYPE escaped gauge
            escaped{path="C:\\dir",quote="say \"hi\"",multi="line1\nline2",unicode="家电清洗"} -2

            """#)
        XCTAssertEqual(try ExpositionValidator.validate(text.render()), 1)
        let samples = try ExpositionValidator.samples(text.render())
        XCTAssertEqual(
            samples.first?.labels,
            ["path": #"C:\dir"#, "quote": #"say "hi""#, "multi": "line1\nline2", "unicode": "家电清洗"],
            "the validator's parse undoes the escaping")
    }

    func testValuesAndNamesAreFormattedValidly() throws {
        var text = PrometheusText()
        text.gauge("values", help: "h", value: .nan, labels: ["v": "nan"])
        text.gauge("values", help: "h", value: .infinity, labels: ["v": "inf"])
        text.gauge("values", help: "h", value: -.infinity, labels: ["v": "-inf"])
        text.gauge("values", help: "h", value: 0.000_01, labels: ["v": "small"])
        text.gauge("values", help: "h", value: 1e20, labels: ["v": "big"])
        text.gauge("values", help: "h", value: -0.0, labels: ["v": "negative zero"])
        text.gauge("bad-name.x", help: "h", value: 1, labels: ["9lives": "a", "ok_label": "b", "ok_label ": "c"])
        text.gauge("2x", help: "h", value: 1)
        text.counter("values", help: "h", value: 1)  // type conflict: dropped
        let rendered = text.render()
        XCTAssertEqual(
            rendered,
            """
            # HELP values h
            # TYPE values gauge
            values{v="nan"} NaN
            values{v="inf"} +Inf
            values{v="-inf"} -Inf
            values{v="small"} 1e-05
            values{v="big"} 1e+20
            values{v="negative zero"} 0
            # HELP bad_name_x h
            # TYPE bad_name_x gauge
            bad_name_x{_lives="a",ok_label="b",ok_label_="c"} 1
            # HELP _x h
            # TYPE _x gauge
            _x 1

            """)
        XCTAssertEqual(try ExpositionValidator.validate(rendered), 3)
    }

    func testHistogramEdgeCases() throws {
        var empty = PrometheusText.Histogram(upperBounds: [])
        empty.observe(3)
        empty.observe(.nan)  // ignored
        var text = PrometheusText()
        text.histogram("only_inf", help: "h", empty)
        var bounded = PrometheusText.Histogram(upperBounds: [2, .infinity, 1, 2, .nan])
        XCTAssertEqual(bounded.upperBounds, [1, 2])
        bounded.observe(1)  // le is inclusive
        bounded.observe(2)
        text.histogram("bounded", help: "h", bounded, labels: ["le": "dropped", "q": "x"])
        XCTAssertEqual(
            text.render(),
            """
            # HELP only_inf h
            # TYPE only_inf histogram
            only_inf_bucket{le="+Inf"} 1
            only_inf_sum 3
            only_inf_count 1
            # HELP bounded h
            # TYPE bounded histogram
            bounded_bucket{q="x",le="1"} 1
            bounded_bucket{q="x",le="2"} 2
            bounded_bucket{q="x",le="+Inf"} 2
            bounded_sum{q="x"} 3
            bounded_count{q="x"} 2

            """)
        XCTAssertEqual(try ExpositionValidator.validate(text.render()), 2)
        XCTAssertEqual(PrometheusText().render(), "")
    }

    func testValidatorRejectsBrokenExpositions() {
        let broken = [
            "no_type 1\n",
            "# TYPE x counter\nx{a=\"b} 1\n",
            "# TYPE x counter\nx 1\n# TYPE x counter\n",
            "# TYPE x counter\nx one\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
            "# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",
            "# TYPE x gauge\nx 1",
        ]
        for text in broken {
            XCTAssertThrowsError(try ExpositionValidator.validate(text), text)
        }
    }
}

/// A small checker for the Prometheus text format 0.0.4, strict where our renderer
/// must be: every sample line is `name{labels} value`, its family's TYPE comes
/// first, and histogram buckets are cumulative, ascending and end at `+Inf` with a
/// matching `_count`.
enum ExpositionValidator {
    struct Invalid: Error, CustomStringConvertible {
        let line: Int
        let message: String
        var description: String { "line \(line): \(message)" }
    }

    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    /// Validates `text`; returns how many metric families it declares.
    @discardableResult
    static func validate(_ text: String) throws -> Int {
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

    static func samples(_ text: String) throws -> [Sample] {
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

    static func parseValue(_ text: String) -> Double? {
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
