/// What a quality score decided for a cleaner (`platform.quality_decisions.outcome`).
public enum QualityOutcome: String, Sendable, CaseIterable, Codable {
    /// Score in the ordinary range: nothing happens.
    case none
    /// A cash bonus, paid by the next payout run.
    case reward
    /// A notice to improve.
    case warning
    /// A fine, deducted by the next payout run.
    case fine
    /// Out of dispatch until the suspension ends or an exam is passed (and fined).
    case suspension
}
