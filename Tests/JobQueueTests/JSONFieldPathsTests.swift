@testable import JobQueue
import XCTest

/// The one-pass field reader behind the quick strict-arguments check, and the check's
/// verdicts through `JobArguments.decode` (no database).
final class JSONFieldPathsTests: XCTestCase {
    private func paths(_ json: String) -> (all: Set<String>, present: Set<String>, isObject: Bool) {
        let read = JSONFieldPaths(json.utf8)
        let text = { (path: [UInt8]) in String(decoding: path.map { $0 == 0x01 ? UInt8(ascii: "/") : $0 }, as: UTF8.self) }
        return (Set(read.all.map(text)), Set(read.present.map(text)), read.isObject)
    }

    func testReadsNestedObjectsNullsAndSkipsArraysAndStringContents() {
        let read = paths(#"{"a": 1, "b": {"c": null, "d": "x\"}:{[,"}, "e": [{"f": 1}, [2]], "g": {"h": {"i": true}}, "j": null}"#)
        XCTAssertEqual(read.all, ["a", "b", "b/c", "b/d", "e", "g", "g/h", "g/h/i", "j"])
        XCTAssertEqual(read.present, ["a", "b", "b/d", "e", "g", "g/h", "g/h/i"], "null values are not present")
        XCTAssertTrue(read.isObject)
    }

    func testADottedKeyIsNotANestedPath() {
        XCTAssertEqual(paths(#"{"a.b": 1}"#).all, ["a.b"])
        XCTAssertEqual(paths(#"{"a": {"b": 1}}"#).all, ["a", "a/b"])
    }

    func testWhatIsNotOneObjectIsNotTrusted() {
        XCTAssertFalse(paths("[1, 2]").isObject)
        XCTAssertFalse(paths("3").isObject)
        XCTAssertFalse(paths(#"{"a": 1} {"b": 2}"#).isObject)
        XCTAssertFalse(paths(#"{"a": 1"#).isObject)
    }

    private struct Shipment: JobArguments {
        static let kind = "test.shipment"
        struct Address: Codable, Sendable {
            var city: String
            var floor: Int?
        }
        var orderID: Int64
        var address: Address
        var note: String?
        var lines: [Address]
    }

    func testTheQuickCheckAndTheFullCheckAgree() throws {
        let accepted = [
            #"{"orderID": 1, "address": {"city": "Hangzhou", "floor": 3}, "note": "x", "lines": []}"#,
            #"{"orderID": 1, "address": {"city": "Hangzhou"}, "lines": [{"city": "Ningbo", "unseen": 1}]}"#,
            #"{"orderID": 1, "address": {"city": "Hangzhou", "floor": null}, "note": null, "lines": []}"#,
        ]
        for json in accepted {
            let decoded = try Shipment.decode(fromJSON: json)
            let quick = JSONFieldPaths.allPresent(
                JSONFieldPaths(json.utf8), in: JSONFieldPaths(try JobJSON.encoder.encode(decoded)))
            XCTAssertTrue(quick, "accepted by the quick check, without the full one: \(json)")
        }
        let refused = [
            (#"{"orderID": 1, "address": {"city": "Hangzhou"}, "lines": [], "nte": "typo"}"#, #"unknown field "nte""#),
            (#"{"orderID": 1, "address": {"city": "Hangzhou", "flor": 3}, "lines": []}"#, #"unknown field "address.flor""#),
            (#"{"orderID": 1, "address": {"city": "Hangzhou"}, "lines": [], "address.city": "x"}"#, #"unknown field "address.city""#),
        ]
        for (json, reason) in refused {
            XCTAssertThrowsError(try Shipment.decode(fromJSON: json), json) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(error) should name \(reason)")
            }
        }
    }
}
