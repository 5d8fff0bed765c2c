public import Foundation
public import JobQueue
import PostgresClient

/// Grades one submission, once: the score and pass/fail are stored, a pass
/// grants or renews the certification for the exam's skill (and with it the
/// skill that order dispatch checks), and the cleaner is notified — all in the
/// transaction that completes the job. An invalid submission is rejected with
/// the reason.
public struct GradeExamSubmission: JobArguments {
    public static let kind = "exam.grade"
    public var submissionID: Int64
    /// When it counts as graded (a back-office re-run); nil: now. The
    /// certification runs from this moment.
    public var asOf: Date?

    public init(submissionID: Int64, asOf: Date? = nil) {
        self.submissionID = submissionID
        self.asOf = asOf
    }

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(submissionID, "submissionID")
    }

    static let load = """
        SELECT s.status, s.answers::text, s.cleaner_id, e.id, e.skill, e.title, e.pass_mark, e.multiple_choice_rule,
               e.certification_months, c.phone, c.time_zone
        FROM platform.exam_submissions AS s
        JOIN platform.exams AS e ON e.id = s.exam_id
        JOIN platform.cleaners AS c ON c.id = s.cleaner_id
        WHERE s.id = $1
        FOR UPDATE OF s
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let id = submissionID
        let now = asOf ?? services.clock.now
        let calendar = services.calendar
        try await context.completeInTransaction { connection in
            guard let row = try connection.query(Self.load, [id]).first else {
                throw JobDiscarded("submission \(id) does not exist")
            }
            let (status, answersJSON, cleanerID, examID, skill, title, passMark) = try row.decode(
                (String, String, Int64, Int64, String, String, Int32).self)
            guard status == "submitted" else { return }  // graded once
            let rule = ExamGrader.MultipleChoiceRule(rawValue: try row.decode(7, as: String.self)) ?? .allOrNothing
            let months = Int(try row.decode(8, as: Int32.self))
            let phone = try row.decode(9, as: String.self)
            let zone = try row.decode(10, as: String.self)
            let grader = ExamGrader(questions: try ExamRecords.questions(examID, on: connection), rule: rule)
            let score: Int
            do {
                score = try grader.score(try ExamRecords.answers(answersJSON))
            } catch let invalid as ExamGrader.InvalidSubmission {
                try connection.execute(
                    "UPDATE platform.exam_submissions SET status = 'rejected', rejection_reason = $2 WHERE id = $1",
                    [id, invalid.reason])
                return
            }
            let passed = score >= Int(passMark)
            try connection.execute(
                """
                UPDATE platform.exam_submissions SET status = 'graded', score = $2::int4, passed = $3, graded_at = $4
                WHERE id = $1
                """, [id, Int64(score), passed, now])
            if passed {
                try ExamRecords.certify(
                    cleanerID: cleanerID, skill: skill, submissionID: id, at: now,
                    until: calendar.adding(months: months, to: now), on: connection)
            }
            try NotificationOutbox.queue(
                template: "exam_result",
                parameters: ["exam": title, "score": "\(score)", "result": passed ? "通过，已获得认证" : "未通过"],
                recipient: phone, timeZone: zone, dedupeKey: "exam_result:\(id)", now: now, on: connection)
        }
    }
}

/// Reading exams and writing certifications, shared by grading and regrading.
enum ExamRecords {
    static func questions(_ examID: Int64, on connection: PostgresConnection) throws -> [ExamGrader.Question] {
        try connection.query(
            "SELECT id, kind, points, answer_key::text FROM platform.exam_questions WHERE exam_id = $1 ORDER BY position",
            [examID]
        ).rows.map { row in
            let (id, kind, points, keyJSON) = try row.decode((Int64, String, Int32, String).self)
            let data = Data(keyJSON.utf8)
            let decoder = JSONDecoder()
            let key: ExamGrader.AnswerKey = switch kind {
            case "single_choice": .singleChoice(try decoder.decode(String.self, from: data))
            case "multiple_choice": .multipleChoice(Set(try decoder.decode([String].self, from: data)))
            case "true_false": .trueFalse(try decoder.decode(Bool.self, from: data))
            default: .fillIn(try decoder.decode([String].self, from: data))
            }
            return ExamGrader.Question(id: id, points: Int(points), key: key)
        }
    }

    /// `{"<question id>": "B" | ["A", "C"] | true | "text" | null}`; a null answer
    /// is left out, so it scores like an unanswered question.
    static func answers(_ json: String) throws -> [Int64: ExamGrader.Answer] {
        struct AnyAnswer: Decodable {
            var value: ExamGrader.Answer?
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if container.decodeNil() {
                    value = nil
                } else if let flag = try? container.decode(Bool.self) {
                    value = .bool(flag)
                } else if let text = try? container.decode(String.self) {
                    value = .text(text)
                } else if let options = try? container.decode([String].self) {
                    value = .options(options)
                } else {
                    throw ExamGrader.InvalidSubmission(reason: "an answer is neither text, a list of options nor true/false")
                }
            }
        }
        let raw: [String: AnyAnswer]
        do {
            raw = try JSONDecoder().decode([String: AnyAnswer].self, from: Data(json.utf8))
        } catch let invalid as ExamGrader.InvalidSubmission {
            throw invalid
        } catch {
            throw ExamGrader.InvalidSubmission(reason: "answers are not an object of question id → answer")
        }
        var answers: [Int64: ExamGrader.Answer] = [:]
        for (key, answer) in raw {
            guard let id = Int64(key) else { throw ExamGrader.InvalidSubmission(reason: "\"\(key)\" is not a question id") }
            if let value = answer.value { answers[id] = value }
        }
        return answers
    }

    /// Grants or renews the certification until `expiry` (the exam's months after
    /// the pass, in the business calendar) and makes the skill dispatchable.
    static func certify(
        cleanerID: Int64, skill: String, submissionID: Int64, at now: Date, until expiry: Date,
        on connection: PostgresConnection
    ) throws {
        try connection.execute(
            """
            INSERT INTO platform.certifications (cleaner_id, skill, submission_id, granted_at, expires_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (cleaner_id, skill) DO UPDATE SET submission_id = EXCLUDED.submission_id,
                granted_at = EXCLUDED.granted_at, expires_at = EXCLUDED.expires_at
            """, [cleanerID, skill, submissionID, now, expiry])
        try connection.execute(
            "UPDATE platform.cleaners SET skills = array_append(skills, $2) WHERE id = $1 AND NOT (skills @> ARRAY[$2])",
            [cleanerID, skill])
    }
}

/// After an answer-key fix: regrades every graded submission of an exam, records
/// what changed (old/new score and result), grants certifications to those who
/// now pass and withdraws those granted by a submission that no longer passes.
public struct RegradeExam: JobArguments {
    public static let kind = "exam.regrade"
    public var examID: Int64
    /// When the regrade counts as made (a back-office re-run); nil: now.
    public var asOf: Date?

    public init(examID: Int64, asOf: Date? = nil) {
        self.examID = examID
        self.asOf = asOf
    }

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(examID, "examID")
    }

    static let lockExam = "SELECT pg_advisory_xact_lock(hashtext('exam.regrade'), hashtext($1::text))"

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let examID = self.examID
        let now = asOf ?? services.clock.now
        let calendar = services.calendar
        let changed = try await context.completeInTransaction { connection -> Int in
            // One regrade of an exam at a time. An advisory lock, not a row lock on
            // the exam: the worker role may read exams but not change them, and
            // FOR UPDATE needs a right to change.
            try connection.query(Self.lockExam, [examID])
            guard let exam = try connection.query(
                "SELECT skill, pass_mark, multiple_choice_rule, certification_months FROM platform.exams WHERE id = $1",
                [examID]
            ).first else { throw JobDiscarded("exam \(examID) does not exist") }
            let (skill, passMark, ruleText, months) = try exam.decode((String, Int32, String, Int32).self)
            let grader = ExamGrader(
                questions: try ExamRecords.questions(examID, on: connection),
                rule: ExamGrader.MultipleChoiceRule(rawValue: ruleText) ?? .allOrNothing)
            var changes = 0
            for row in try connection.query(
                """
                SELECT id, cleaner_id, answers::text, score, passed FROM platform.exam_submissions
                WHERE exam_id = $1 AND status = 'graded' ORDER BY id FOR UPDATE
                """, [examID]
            ).rows {
                let (id, cleanerID, answers, oldScore, oldPassed) = try row.decode((Int64, Int64, String, Int32, Bool).self)
                guard let score = try? grader.score(try ExamRecords.answers(answers)) else { continue }
                let passed = score >= Int(passMark)
                guard score != Int(oldScore) || passed != oldPassed else { continue }
                changes += 1
                try connection.execute(
                    "UPDATE platform.exam_submissions SET score = $2::int4, passed = $3 WHERE id = $1",
                    [id, Int64(score), passed])
                try connection.execute(
                    """
                    INSERT INTO platform.exam_regrade_changes (exam_id, submission_id, old_score, new_score, old_passed, new_passed, regraded_at)
                    VALUES ($1, $2, $3::int4, $4::int4, $5, $6, $7)
                    """, [examID, id, Int64(oldScore), Int64(score), oldPassed, passed, now])
                if passed && !oldPassed {
                    try ExamRecords.certify(
                        cleanerID: cleanerID, skill: skill, submissionID: id, at: now,
                        until: calendar.adding(months: Int(months), to: now), on: connection)
                } else if !passed && oldPassed {
                    try connection.execute(
                        "DELETE FROM platform.certifications WHERE cleaner_id = $1 AND skill = $2 AND submission_id = $3",
                        [cleanerID, skill, id])
                    try connection.execute(
                        """
                        UPDATE platform.cleaners SET skills = array_remove(skills, $2)
                        WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM platform.certifications WHERE cleaner_id = $1 AND skill = $2)
                        """, [cleanerID, skill])
                }
            }
            return changes
        }
        services.log.info("exam regraded", [("exam_id", "\(examID)"), ("changed_submissions", "\(changed)")])
    }
}
