import Foundation
import XCTest

@testable import Metrics
import TestSupport

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
