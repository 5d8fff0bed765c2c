import Foundation
import JobQueue

/// Grades exam answers. Pure logic: the job around it loads and stores.
public struct ExamGrader: Sendable {
    public enum MultipleChoiceRule: String, Sendable {
        /// Full points only for exactly the right set of options.
        case allOrNothing = "all_or_nothing"
        /// Any wrong option chosen → 0; otherwise ⌊points × right chosen / all right⌋.
        case partial
    }

    public enum AnswerKey: Sendable, Equatable {
        case singleChoice(String)
        case multipleChoice(Set<String>)
        case trueFalse(Bool)
        /// Accepted answers; compared trimmed, case-insensitively, full- and half-width alike.
        case fillIn([String])
    }

    public struct Question: Sendable, Equatable {
        public var id: Int64
        public var points: Int
        public var key: AnswerKey

        public init(id: Int64, points: Int, key: AnswerKey) {
            self.id = id
            self.points = points
            self.key = key
        }
    }

    public enum Answer: Sendable, Equatable {
        case text(String)
        case options([String])
        case bool(Bool)
    }

    /// Why a submission cannot be graded.
    public struct InvalidSubmission: Error, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public var questions: [Question]
    public var rule: MultipleChoiceRule

    public init(questions: [Question], rule: MultipleChoiceRule) {
        self.questions = questions
        self.rule = rule
    }

    /// The total score; unanswered questions (no answer or null) score 0. Answers
    /// to unknown questions or of the wrong type reject the whole submission.
    public func score(_ answers: [Int64: Answer]) throws -> Int {
        let byID = Dictionary(uniqueKeysWithValues: questions.map { ($0.id, $0) })
        for id in answers.keys.sorted() where byID[id] == nil {
            throw InvalidSubmission(reason: "answer to question \(id), which is not in this exam")
        }
        var total = 0
        for question in questions {
            guard let answer = answers[question.id] else { continue }
            total += try points(for: question, answer)
        }
        return total
    }

    private func points(for question: Question, _ answer: Answer) throws -> Int {
        switch (question.key, answer) {
        // Options are compared exactly as declared: an option that is not one of
        // the question's (a different case or width included) is simply wrong.
        case (.singleChoice(let right), .text(let chosen)):
            return chosen == right ? question.points : 0
        case (.multipleChoice(let right), .options(let chosen)):
            let chosenSet = Set(chosen)
            let rightSet = right
            switch rule {
            case .allOrNothing:
                return chosenSet == rightSet ? question.points : 0
            case .partial:
                if !chosenSet.isSubset(of: rightSet) || rightSet.isEmpty { return 0 }
                return question.points * chosenSet.count / rightSet.count
            }
        case (.trueFalse(let right), .bool(let chosen)):
            return chosen == right ? question.points : 0
        case (.fillIn(let accepted), .text(let written)):
            let normalized = Self.normalize(written)
            return accepted.contains { Self.normalize($0) == normalized } ? question.points : 0
        default:
            throw InvalidSubmission(reason: "question \(question.id) expects \(Self.expected(question.key)), got \(Self.describe(answer))")
        }
    }

    /// For fill-in answers: trimmed of Unicode whitespace (`UnicodeText`),
    /// lower-cased, full-width ASCII forms (ＡＢＣ１２３, the ideographic space)
    /// folded to their half-width equivalents.
    public static func normalize(_ text: String) -> String {
        let folded = String(String.UnicodeScalarView(text.unicodeScalars.map { scalar -> Unicode.Scalar in
            switch scalar.value {
            case 0xFF01...0xFF5E: Unicode.Scalar(scalar.value - 0xFEE0) ?? scalar
            case 0x3000: " "
            default: scalar
            }
        }))
        return UnicodeText.trimmed(folded).lowercased()
    }

    private static func expected(_ key: AnswerKey) -> String {
        switch key {
        case .singleChoice: "one option (text)"
        case .multipleChoice: "a list of options"
        case .trueFalse: "true or false"
        case .fillIn: "text"
        }
    }

    private static func describe(_ answer: Answer) -> String {
        switch answer {
        case .text: "text"
        case .options: "a list"
        case .bool: "true/false"
        }
    }
}
