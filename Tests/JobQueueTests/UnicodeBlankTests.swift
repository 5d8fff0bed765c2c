import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// "Blank" is one rule: `UnicodeText` in Swift and `queue.is_blank` in SQL agree.
final class UnicodeBlankTests: XCTestCase {
    /// Every code point of planes 0–2 (except NUL, which text cannot hold, and the
    /// surrogates, which are not scalars), alone: both sides call the same ones blank,
    /// and those are at least every character with Unicode's White_Space property.
    func testSwiftAndSQLAgreeOnEveryCodePoint() throws {
        try TestDatabase.migrate()
        let connection = try TestDatabase.connect()
        let texts = (1...0x2FFFF).compactMap(Unicode.Scalar.init).map { String($0) }
        let blankInSQL = Set(try connection.query(
            "SELECT i FROM unnest($1::text[]) WITH ORDINALITY AS t(v, i) WHERE queue.is_blank(v)", [texts]
        ).rows.map { Int(try $0.decode(0, as: Int64.self)) - 1 })
        let blankInSwift = Set(texts.indices.filter { UnicodeText.isBlank(texts[$0]) })
        XCTAssertEqual(blankInSQL, blankInSwift, "code points blank on one side only")
        XCTAssertEqual(blankInSwift.count, UnicodeText.whitespace.count)
        for text in texts where text.unicodeScalars.first!.properties.isWhitespace {
            XCTAssertTrue(UnicodeText.isBlank(text), "U+\(String(text.unicodeScalars.first!.value, radix: 16)) is White_Space")
        }
    }

    func testMixedTextsAndTrimming() throws {
        let connection = try TestDatabase.connect()
        let cases: [(String, Bool)] = [
            ("", true), (" ", true), ("\u{3000}", true), ("\u{00A0}\u{200B}\u{2028}\u{FEFF}\t\n", true),
            ("\u{3000}张\u{3000}", false), ("a", false), ("\u{200B}.", false), ("_", false),
        ]
        for (text, blank) in cases {
            XCTAssertEqual(UnicodeText.isBlank(text), blank, text.debugDescription)
            XCTAssertEqual(try connection.query("SELECT queue.is_blank($1)", [text]).scalar(Bool.self), blank, text.debugDescription)
        }
        XCTAssertEqual(UnicodeText.trimmed("\u{3000}\u{200B} 刮 水器\u{00A0}\n"), "刮 水器")
        XCTAssertEqual(UnicodeText.trimmed("\u{2028}\u{3000}"), "")
    }

    /// A blank kind, queue, unique key or tag is refused before anything is written.
    func testBlankJobFieldsAreRefused() {
        for request in [
            JobRequest(kind: "\u{3000}"), JobRequest(kind: "k", queue: "\u{00A0}"),
            JobRequest(kind: "k", uniqueKey: "\u{200B}"), JobRequest(kind: "k", tags: ["ok", " \u{2029}"]),
        ] {
            XCTAssertThrowsError(try request.validateForEnqueue(), "\(request)") { error in
                XCTAssertTrue("\(error)".contains("blank"), "\(error)")
            }
        }
        XCTAssertNoThrow(try JobRequest(kind: "k", queue: "q", tags: ["t"], uniqueKey: "u").validateForEnqueue())
    }
}
