import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Configuration rows that could not work are refused when they are saved, with
/// the reason, by the database itself (so every writer is held to it).
final class ConfigurationValidationTests: XCTestCase {
    /// Runs `statements` in one transaction and expects the save to be refused by
    /// `constraint` with a message containing `reason`. Nothing is committed.
    private func assertRefused(
        _ statements: [String], constraint: String, reason: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let connection = try TestDatabase.connect()
        XCTAssertThrowsError(
            try connection.withTransaction { connection in
                for statement in statements { try connection.execute(statement) }
            }, file: file, line: line
        ) { error in
            let refusal = error as? PostgresError
            XCTAssertEqual(refusal?.constraint, constraint, "\(error)", file: file, line: line)
            XCTAssertTrue(refusal?.message.contains(reason) ?? false, "\(error)", file: file, line: line)
        }
    }

    /// Runs `statements`, then the checks deferred to commit (`SET CONSTRAINTS ALL
    /// IMMEDIATE` runs them at once), then rolls back: a valid change is accepted
    /// without changing the shared tables.
    private func assertAccepted(_ statements: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        struct RollBack: Error {}
        let connection = try TestDatabase.connect()
        XCTAssertThrowsError(
            try connection.withTransaction { connection in
                for statement in statements { try connection.execute(statement) }
                try connection.execute("SET CONSTRAINTS ALL IMMEDIATE")
                throw RollBack()
            }, file: file, line: line
        ) { error in
            XCTAssertTrue(error is RollBack, "refused: \(error)", file: file, line: line)
        }
    }

    func testTierTablesThatCannotWorkAreRefused() throws {
        try TestDatabase.migrate()
        try assertRefused(
            ["UPDATE platform.member_tiers SET threshold = 10 WHERE threshold = 0"],
            constraint: "member_tiers_valid", reason: "no tier starts at growth value 0")
        try assertRefused(
            ["UPDATE platform.member_tiers SET threshold = 60000 WHERE name = '白银'"],
            constraint: "member_tiers_valid", reason: "thresholds must rise with the tier id")
        try assertRefused(
            ["INSERT INTO platform.member_tiers (id, name, threshold) VALUES (99, '黑卡', 30000)"],
            constraint: "member_tiers_valid", reason: "tier 99")
        try assertRefused(
            ["INSERT INTO platform.member_tiers (id, name, threshold) VALUES (98, '\u{3000}', 90000)"],
            constraint: "member_tiers_name_not_blank", reason: "member_tiers_name_not_blank")
        // Thresholds swapped in two statements of one transaction are judged as saved.
        try assertAccepted([
            "UPDATE platform.member_tiers SET threshold = 1500 WHERE name = '白银'",
            "INSERT INTO platform.member_tiers (id, name, threshold) VALUES (6, '至尊', 100000)",
        ])
    }

    func testBonusAndPenaltyRulesThatCannotWorkAreRefused() throws {
        try TestDatabase.migrate()
        try assertRefused(
            ["UPDATE platform.payout_rules SET amount_fen = -500 WHERE code = 'five_star_review'"],
            constraint: "payout_rules_known", reason: "payout_rules_known")
        try assertRefused(
            ["UPDATE platform.payout_rules SET amount_fen = 2000 WHERE code = 'upheld_complaint'"],
            constraint: "payout_rules_known", reason: "payout_rules_known")
        try assertRefused(
            ["INSERT INTO platform.payout_rules (code, amount_fen, description) VALUES ('five_star', 500, 'typo')"],
            constraint: "payout_rules_known", reason: "payout_rules_known")
        try assertRefused(
            ["DELETE FROM platform.payout_rules WHERE code = 'upheld_complaint'"],
            constraint: "payout_rules_complete", reason: "upheld_complaint missing")
        try assertRefused(
            ["UPDATE platform.payout_rules SET description = ' \u{200B}' WHERE code = 'five_star_review'"],
            constraint: "payout_rules_description_not_blank", reason: "payout_rules_description_not_blank")
        try assertAccepted(["UPDATE platform.payout_rules SET amount_fen = 800 WHERE code = 'five_star_review'"])
    }

    func testCommissionRatesAndTextsPeopleReadCannotBeMissingOrBlank() throws {
        try TestDatabase.migrate()
        try assertRefused(
            ["DELETE FROM platform.commission_rates WHERE level = '熟练'"],
            constraint: "commission_rates_complete", reason: "no rate for level 熟练")
        try assertRefused(
            ["UPDATE platform.notification_templates SET body = '\u{3000}\u{00A0}' WHERE code = 'order_status'"],
            constraint: "notification_templates_body_not_blank", reason: "notification_templates_body_not_blank")
        try assertRefused(
            ["INSERT INTO platform.coupon_templates (name, discount_fen, valid_days) VALUES ('\u{2028}', 100, 1)"],
            constraint: "coupon_templates_name_not_blank", reason: "coupon_templates_name_not_blank")
        try assertAccepted(["UPDATE platform.commission_rates SET rate_bp = 1800 WHERE level = '熟练'"])
    }

    /// An exam with one question of each case, saved in one transaction.
    private func exam(passMark: Int = 5, _ questions: [(kind: String, options: String?, key: String)]) -> [String] {
        ["INSERT INTO platform.exams (skill, title, pass_mark) VALUES ('test_skill', '测试考试', \(passMark))"]
            + questions.enumerated().map { index, question in
                """
                INSERT INTO platform.exam_questions (exam_id, position, kind, points, options, answer_key)
                VALUES (currval(pg_get_serial_sequence('platform.exams', 'id')), \(index + 1), '\(question.kind)', 5,
                        \(question.options.map { "'\($0)'" } ?? "NULL"), '\(question.key)')
                """
            }
    }

    func testExamDefinitionsThatCannotBeGradedAreRefused() throws {
        try TestDatabase.migrate()
        let refusals: [([(kind: String, options: String?, key: String)], Int, String)] = [
            ([("single_choice", #"["A","B","C"]"#, #""E""#)], 5, #"the answer "E" is not among the options"#),
            ([("single_choice", #"["A","B","C"]"#, #""b""#)], 5, "is not among the options"),
            ([("single_choice", nil, #""A""#)], 5, "needs its options"),
            ([("single_choice", #"["A"]"#, #""A""#)], 5, "at least two options"),
            ([("single_choice", #"["A","A"]"#, #""A""#)], 5, "options repeat"),
            ([("single_choice", #"["A","　"]"#, #""A""#)], 5, "an option is blank"),
            ([("single_choice", #"["A","B"]"#, #"["A"]"#)], 5, "one option (a text)"),
            ([("multiple_choice", #"["A","B","C"]"#, #"["A","X"]"#)], 5, "names options not among"),
            ([("multiple_choice", #"["A","B","C"]"#, "[]")], 5, "names no option"),
            ([("multiple_choice", #"["A","B","C"]"#, #""A""#)], 5, "a list of options"),
            ([("true_false", nil, #""yes""#)], 5, "true or false"),
            ([("true_false", #"["A","B"]"#, "true")], 5, "has no options"),
            ([("fill_in", nil, "[]")], 5, "accepts no answer"),
            ([("fill_in", nil, #"["答案","\u3000"]"#)], 5, "an accepted answer is blank"),
            ([("true_false", nil, "true")], 6, "nobody could pass"),
        ]
        for (questions, passMark, reason) in refusals {
            try assertRefused(exam(passMark: passMark, questions), constraint: "exam_valid", reason: reason)
        }
        try assertRefused(
            ["INSERT INTO platform.exams (skill, title, pass_mark) VALUES ('s', ' ', 0)"],
            constraint: "exams_title_not_blank", reason: "exams_title_not_blank")
        try assertAccepted(exam(passMark: 20, [
            ("single_choice", #"["A","B","C","D"]"#, #""B""#), ("multiple_choice", #"["A","B","C","D"]"#, #"["A","C"]"#),
            ("true_false", nil, "false"), ("fill_in", nil, #"["中性清洁剂"]"#),
        ]))
    }

    /// A null or missing answer and an option the question does not declare score 0
    /// for that question; the rest of the submission is graded.
    func testNullMissingAndUnknownAnswersScoreZeroWithoutRejectingTheSubmission() async throws {
        let fixture = try PlatformFixture()
        let cleaner = try await fixture.cleaner()
        let (submission, exam) = try await fixture.pool.withTransaction { connection -> (Int64, Int64) in
            let exam = try connection.query(
                "INSERT INTO platform.exams (skill, title, pass_mark) VALUES ($1, '认证', 5) RETURNING id",
                ["skill-\(UUID().uuidString.prefix(8))"]
            ).scalar(Int64.self)
            var ids: [Int64] = []
            for (position, kind, options, key) in [
                (1, "single_choice", #"["A","B"]"#, #""A""#), (2, "multiple_choice", #"["A","B","C"]"#, #"["A","B"]"#),
                (3, "true_false", nil, "true"), (4, "fill_in", nil, #"["刮水器"]"#),
            ] {
                ids.append(try connection.query(
                    """
                    INSERT INTO platform.exam_questions (exam_id, position, kind, points, options, answer_key)
                    VALUES ($1, $2::int4, $3, 5, $4::jsonb, $5::jsonb) RETURNING id
                    """, [exam, Int64(position), kind, options, key]
                ).scalar(Int64.self))
            }
            let answers = #"{"\#(ids[0])": null, "\#(ids[1])": ["A", "Z"], "\#(ids[2])": true}"#
            let submission = try connection.query(
                "INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers) VALUES ($1, $2, $3::jsonb) RETURNING id",
                [exam, cleaner.id, answers]
            ).scalar(Int64.self)
            return (submission, exam)
        }
        try await fixture.complete(try JobRequest(GradeExamSubmission(submissionID: submission)))
        let (status, score, passed) = try await fixture.pool.query(
            "SELECT status, score, passed FROM platform.exam_submissions WHERE id = $1", [submission]
        ).first!.decode((String, Int32?, Bool?).self)
        XCTAssertEqual(status, "graded", "exam \(exam)")
        XCTAssertEqual(score, 5, "null: 0, unknown option Z: 0, true: 5, missing fill-in: 0")
        XCTAssertEqual(passed, true)
    }
}
