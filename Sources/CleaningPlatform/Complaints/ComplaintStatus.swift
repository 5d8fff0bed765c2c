/// Where a complaint is (`platform.complaints.status`):
/// filed → acknowledged → investigating → upheld | rejected → closed.
/// The database refuses any other change (`complaints_status_transition`).
public enum ComplaintStatus: String, Sendable, CaseIterable {
    case filed, acknowledged, investigating, upheld, rejected, closed

    /// The statuses an operator's action moves to, and the one it needs first.
    var previous: [ComplaintStatus] {
        switch self {
        case .filed: []
        case .acknowledged: [.filed]
        case .investigating: [.acknowledged]
        case .upheld, .rejected: [.investigating]
        case .closed: [.upheld, .rejected]
        }
    }
}

/// The severities of `platform.complaint_sla_rules` (their deadlines are rows there).
public enum ComplaintSeverity: String, Sendable, CaseIterable {
    case urgent, normal, minor
}

/// The two deadlines of a complaint.
public enum ComplaintDeadline: String, Sendable, Codable, CaseIterable {
    case acknowledge, resolve
}

/// Who is told when a deadline is missed: the on-duty operator, then the supervisor.
public enum EscalationLevel: String, Sendable, Codable, CaseIterable {
    case `operator`, supervisor
}
