import Foundation
@testable import JobQueue
import XCTest

/// The quick decoding of flat argument objects (no database): the same value as
/// `JSONDecoder` where it gives one, nil (so `JSONDecoder` decides) everywhere else.
final class FlatJSONObjectTests: XCTestCase {
    private struct Plain: Codable, Equatable {
        var id: Int
        var count: Int64
        var small: Int32
        var name: String
        var active: Bool
        var note: String?
        var extra: Int?
    }

    /// Asks for a double and catches the refusal itself: still nil, not a value that
    /// differs from `JSONDecoder`'s.
    private struct CatchesItsOwnErrors: Decodable {
        var ratio: Double
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            ratio = (try? container.decode(Double.self, forKey: .ratio)) ?? -1
        }
        enum CodingKeys: String, CodingKey { case ratio }
    }

    private struct Dated: Decodable { var at: Date }
    private struct Nested: Decodable { var inner: Plain }

    func testPlainObjectsDecodeToWhatJSONDecoderGives() throws {
        let texts = [
            #"{"id": 1, "count": -9223372036854775808, "small": 2147483647, "name": "Zoë 清洁", "active": true, "note": null}"#,
            #"{"active":false,"count":0,"id":-0,"name":"","small":-2147483648,"extra":7}"#,
            " \n{ \"id\" : 42 , \"count\" : 1, \"small\": 0, \"name\": \"a/b\", \"active\": true, \"unknown\": 3 }\t",
        ]
        for text in texts {
            let expected = try JobJSON.decoder.decode(Plain.self, from: Data(text.utf8))
            let object = try XCTUnwrap(FlatJSONObject(text), text)
            XCTAssertEqual(object.decode(Plain.self), expected, text)
        }
        XCTAssertEqual(FlatJSONObject("{}")?.fields, [:])
        XCTAssertEqual(FlatJSONObject(#"{"a": 1}"#)?.fields, ["a": .integer(1)])
    }

    func testAnythingButAPlainFlatObjectIsLeftToJSONDecoder() {
        for text in [
            #"{"a": 1.5}"#, #"{"a": 1e3}"#, #"{"a": 01}"#, #"{"a": -}"#, #"{"a": 99999999999999999999}"#,
            #"{"a": "x\"y"}"#, #"{"a\u0062": 1}"#, "{\"a\": \"tab\there\"}", #"{"a": [1]}"#, #"{"a": {"b": 1}}"#,
            #"{"a": 1, "a": 2}"#, #"{"a": 1,}"#, #"{"a": 1} x"#, #"{"a" 1}"#, #"{"a": tru}"#, #"[1]"#, #"1"#, "",
            #"{"a": 1"#,
        ] {
            XCTAssertNil(FlatJSONObject(text), text)
        }
    }

    func testATypeAskingForMoreIsLeftToJSONDecoder() throws {
        XCTAssertNil(FlatJSONObject(#"{"ratio": 2}"#)?.decode(CatchesItsOwnErrors.self), "a double")
        XCTAssertEqual(try JobJSON.decoder.decode(CatchesItsOwnErrors.self, from: Data(#"{"ratio": 2}"#.utf8)).ratio, 2)
        XCTAssertNil(FlatJSONObject(#"{"at": "2026-12-06T10:00:00Z"}"#)?.decode(Dated.self), "a date")
        XCTAssertNil(FlatJSONObject(#"{"id": 1}"#)?.decode(Plain.self), "missing fields")
        XCTAssertNil(FlatJSONObject(#"{"id": "1", "count": 1, "small": 0, "name": "", "active": true}"#)?.decode(Plain.self), "a string for an integer")
        XCTAssertNil(FlatJSONObject(#"{"id": 1, "count": 1, "small": 2147483648, "name": "", "active": true}"#)?.decode(Plain.self), "too big for Int32")
        XCTAssertNil(FlatJSONObject(#"{"id": 1, "count": 1, "small": 0, "name": "", "active": 1}"#)?.decode(Plain.self), "a number for a boolean")
        XCTAssertNil(FlatJSONObject(#"{"id": 1, "count": 1, "small": 0, "name": null, "active": true}"#)?.decode(Plain.self), "null for a string")
        XCTAssertNil(FlatJSONObject(#"{"inner": 1}"#)?.decode(Nested.self), "a nested value")
    }

    private struct WithDouble: Codable { var ratio: Double }
    private struct WithNested: Codable { var inner: WithDouble }
    private struct OddKey: Codable {
        var value: Int
        enum CodingKeys: String, CodingKey { case value = "wert_ä" }
    }

    /// The strict check's quick form without encoding: where it answers, the same answer
    /// as `JSONFieldPaths` on `JSONEncoder`'s text; where the value encodes more than
    /// plain fields, no answer.
    func testKnownFieldsAreFoundAsJSONFieldPathsFindsThem() throws {
        let plain = Plain(id: 1, count: 2, small: 3, name: "n", active: true, note: nil, extra: 4)
        let cases: [(String, Bool)] = [
            (#"{"id": 1, "count": 2, "small": 3, "name": "n", "active": true, "extra": 4}"#, true),
            (#"{"id": 1, "count": 2, "small": 3, "name": "n", "active": true, "extra": 4, "colour": "red"}"#, false),
            (#"{"id": 1, "count": 2, "small": 3, "name": "n", "active": true, "colour": null}"#, true),
            (#"{"id": 1, "count": 2, "small": 3, "name": "n", "active": true, "note": "given"}"#, false),
            (#"{}"#, true),
        ]
        let knownText = try JobJSON.encoder.encode(plain)
        for (text, expected) in cases {
            let object = try XCTUnwrap(FlatJSONObject(text), text)
            XCTAssertEqual(object.fieldsAreKnown(to: plain), expected, text)
            XCTAssertEqual(
                JSONFieldPaths.allPresent(JSONFieldPaths(text.utf8), in: JSONFieldPaths(knownText)), expected,
                "JSONFieldPaths agrees on \(text)")
        }
        let object = try XCTUnwrap(FlatJSONObject(#"{"ratio": 1}"#))
        XCTAssertNil(object.fieldsAreKnown(to: WithDouble(ratio: .nan)), "a double (NaN does not encode)")
        XCTAssertNil(object.fieldsAreKnown(to: WithNested(inner: WithDouble(ratio: 1))), "a nested value")
        XCTAssertNil(object.fieldsAreKnown(to: OddKey(value: 1)), "a key beyond printable ASCII")
        XCTAssertNil(object.fieldsAreKnown(to: [1, 2]), "not an object")
    }

    /// A refusal is worded by `JSONDecoder`, as before the quick path existed.
    func testRefusalsAreWordedAsJSONDecoderWordsThem() {
        struct Order: JobArguments { static let kind = "test.flat_order"; var orderID: Int }
        for text in [
            #"{"orderID": "7"}"#, #"{}"#, #"{"orderID": 1.5}"#, #"{"orderID": 7, "colour": "red"}"#,
            #"{"orderID": 7, "colour": null}"#,
        ] {
            var expected = "accepted"
            do {
                let value = try JobJSON.decoder.decode(Order.self, from: Data(text.utf8))
                if text.contains(#""colour": "red""#) { expected = "test.flat_order: unknown field \"colour\"" } else { _ = value }
            } catch {
                expected = "test.flat_order arguments do not decode as Order: \(JobArgumentsError.describe(error))"
            }
            do {
                _ = try Order.decode(fromJSON: text)
                XCTAssertEqual("accepted", expected, text)
            } catch {
                XCTAssertEqual(error.reason, expected, text)
            }
        }
        XCTAssertEqual(try? Order.decode(fromJSON: #"{"orderID": 7}"#).orderID, 7)
    }
}
