import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

final class ExamGradingTests: XCTestCase {
    private let questions = [
        ExamGrader.Question(id: 1, points: 10, key: .singleChoice("B")),
        ExamGrader.Question(id: 2, points: 10, key: .multipleChoice(["A", "C", "D"])),
        ExamGrader.Question(id: 3, points: 5, key: .trueFalse(false)),
        ExamGrader.Question(id: 4, points: 5, key: .fillIn(["中性清洁剂", "PH7"])),
    ]

    func testEveryQuestionKindAndRuleByHand() throws {
        let strict = ExamGrader(questions: questions, rule: .allOrNothing)
        let partial = ExamGrader(questions: questions, rule: .partial)
        let perfect: [Int64: ExamGrader.Answer] = [1: .text("B"), 2: .options(["D", "A", "C"]), 3: .bool(false), 4: .text("中性清洁剂")]
        XCTAssertEqual(try strict.score(perfect), 30)
        XCTAssertEqual(try partial.score(perfect), 30)
        // Two of three right options, nothing wrong: all-or-nothing 0, partial ⌊10×2/3⌋ = 6.
        let twoOfThree: [Int64: ExamGrader.Answer] = [2: .options(["A", "C"])]
        XCTAssertEqual(try strict.score(twoOfThree), 0)
        XCTAssertEqual(try partial.score(twoOfThree), 6)
        // Any wrong option chosen: 0 under both rules.
        XCTAssertEqual(try partial.score([2: .options(["A", "C", "B"])]), 0)
        XCTAssertEqual(try partial.score([2: .options([])]), 0)
        // Wrong single choice, wrong true/false, unanswered: 0.
        XCTAssertEqual(try strict.score([1: .text("C"), 3: .bool(true)]), 0)
        XCTAssertEqual(try strict.score([:]), 0)
        // Fill-in: trimmed, case-insensitive, full-width = half-width.
        XCTAssertEqual(try strict.score([4: .text("  ｐｈ７ ")]), 5)
        XCTAssertEqual(try strict.score([4: .text("ph 7")]), 0)
        // Every Unicode whitespace trims, zero-width and no-break spaces included.
        XCTAssertEqual(try strict.score([4: .text("\u{200B}中性清洁剂\u{00A0}\u{3000}")]), 5)
        // Options are compared exactly as declared: another case or width is another (wrong) option.
        XCTAssertEqual(try strict.score([1: .text(" ｂ")]), 0)
        XCTAssertEqual(try strict.score([1: .text("b")]), 0)
        XCTAssertEqual(try strict.score([1: .text("E"), 2: .options(["A", "C", "Z"])]), 0)
    }

    func testInvalidSubmissionsAreRejectedWithTheReason() {
        let grader = ExamGrader(questions: questions, rule: .partial)
        XCTAssertThrowsError(try grader.score([99: .text("A")])) { error in
            XCTAssertEqual("\(error)", "answer to question 99, which is not in this exam")
        }
        XCTAssertThrowsError(try grader.score([3: .text("false")])) { error in
            XCTAssertEqual("\(error)", "question 3 expects true or false, got text")
        }
        XCTAssertThrowsError(try grader.score([2: .text("A")])) { error in
            XCTAssertTrue("\(error)".contains("expects a list of options"))
        }
    }

    func testGradingCertifiesOnceAndARegradeSaysWhatChanged() async throws {
        let fixture = try PlatformFixture()
        let cleaner = try await fixture.cleaner()
        let skill = "windows-\(UUID().uuidString.prefix(8))"
        // An exam is saved whole, in one transaction (it is checked at commit).
        let (exam, questionIDs) = try await fixture.pool.withTransaction { connection -> (Int64, [Int64]) in
            let exam = try connection.query(
                "INSERT INTO platform.exams (skill, title, pass_mark, multiple_choice_rule) VALUES ($1, '擦玻璃认证', 15, 'partial') RETURNING id",
                [skill]
            ).scalar(Int64.self)
            var questionIDs: [Int64] = []
            for (position, kind, points, options, key) in [
                (1, "single_choice", 10, #"["A","B","C","D"]"#, #""B""#), (2, "true_false", 5, nil, "true"),
                (3, "fill_in", 5, nil, #"["刮水器"]"#),
            ] {
                questionIDs.append(try connection.query(
                    """
                    INSERT INTO platform.exam_questions (exam_id, position, kind, points, options, answer_key)
                    VALUES ($1, $2::int4, $3, $4::int4, $5::jsonb, $6::jsonb) RETURNING id
                    """, [exam, Int64(position), kind, Int64(points), options, key]
                ).scalar(Int64.self))
            }
            return (exam, questionIDs)
        }
        func submit(_ answers: String) async throws -> Int64 {
            try await fixture.pool.query(
                "INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers) VALUES ($1, $2, $3::jsonb) RETURNING id",
                [exam, cleaner.id, answers]
            ).scalar(Int64.self)
        }
        let (q1, q2, q3) = (questionIDs[0], questionIDs[1], questionIDs[2])
        // 0 + 5 + 5 = 10 < 15: fails now; passes after the key of q1 is fixed to "C".
        let failing = try await submit(#"{"\#(q1)": "C", "\#(q2)": true, "\#(q3)": " 刮水器 "}"#)
        let invalid = try await submit(#"{"\#(q1)": "C", "999999": true}"#)
        let wrongType = try await submit(#"{"\#(q2)": "yes"}"#)
        let now = Date()
        let services = PlatformServices(clock: .fixed(now), provider: RecordingProvider(), log: .silent)
        let client = JobQueueClient(database: fixture.pool)
        for id in [failing, invalid, wrongType, failing] {
            try await client.enqueue(try JobRequest(GradeExamSubmission(submissionID: id)))
        }
        try await fixture.running(services) {
            _ = try await fixture.eventually {
                let waiting = try await fixture.pool.query(
                    "SELECT count(*)::int8 FROM platform.exam_submissions WHERE exam_id = $1 AND status = 'submitted'", [exam]
                ).scalar(Int64.self)
                let unfinished = try await fixture.unfinishedJobs()
                return waiting == 0 && unfinished == 0
            }
        }
        let results = try await fixture.pool.query(
            "SELECT id, status, score, passed, rejection_reason FROM platform.exam_submissions WHERE exam_id = $1 ORDER BY id",
            [exam]
        ).rows.map { try $0.decode((Int64, String, Int32?, Bool?, String?).self) }
        XCTAssertEqual(results[0].1, "graded")
        XCTAssertEqual(results[0].2, 10)
        XCTAssertEqual(results[0].3, false)
        XCTAssertEqual(results[1].1, "rejected")
        XCTAssertTrue(results[1].4?.contains("not in this exam") ?? false)
        XCTAssertEqual(results[2].1, "rejected")
        XCTAssertTrue(results[2].4?.contains("expects true or false") ?? false)
        let notified = try await fixture.notifications(to: cleaner.phone)
        XCTAssertEqual(notified.filter { $0.0 == "exam_result" }.count, 1, "graded once, notified once")

        // The answer key was wrong: q1 is "C". Regrade.
        _ = try await fixture.pool.query("UPDATE platform.exam_questions SET answer_key = '\"C\"' WHERE id = $1", [q1])
        try await client.enqueue(try JobRequest(RegradeExam(examID: exam)))
        try await fixture.running(services) {
            _ = try await fixture.eventually {
                try await fixture.pool.query(
                    "SELECT count(*)::int8 FROM platform.exam_regrade_changes WHERE exam_id = $1", [exam]).scalar(Int64.self) > 0
            }
        }
        let change = try await fixture.pool.query(
            "SELECT submission_id, old_score, new_score, old_passed, new_passed FROM platform.exam_regrade_changes WHERE exam_id = $1",
            [exam]
        ).rows.map { try $0.decode((Int64, Int32, Int32, Bool, Bool).self) }
        XCTAssertEqual(change.count, 1)
        XCTAssertEqual(change.first?.0, failing)
        XCTAssertEqual(change.first.map { [$0.1, $0.2] }, [10, 20])
        XCTAssertEqual(change.first?.4, true)
        let certification = try await fixture.pool.query(
            "SELECT expires_at FROM platform.certifications WHERE cleaner_id = $1 AND skill = $2", [cleaner.id, skill]
        ).first?.decode(0, as: Date.self)
        let expected = Calendar(identifier: .gregorian).date(byAdding: .month, value: 12, to: now)!
        XCTAssertEqual(certification?.timeIntervalSince1970 ?? 0, expected.timeIntervalSince1970, accuracy: 86_400)
        let skills = try await fixture.pool.query("SELECT skills FROM platform.cleaners WHERE id = $1", [cleaner.id])
            .scalar([String].self)
        XCTAssertTrue(skills.contains(skill), "dispatch may now offer this skill's orders")
    }
}
