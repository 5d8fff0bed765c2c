public import JobQueue

/// One transfer to a cleaner.
public struct PayoutInstruction: Sendable, Equatable {
    public var itemID: Int64
    public var cleanerID: Int64
    public var amountFen: Int64
    /// Stable across retries ("payout-<item>"), so the bank or wallet gateway can
    /// refuse a second transfer for the same line.
    public var idempotencyKey: String

    public init(itemID: Int64, cleanerID: Int64, amountFen: Int64, idempotencyKey: String) {
        self.itemID = itemID
        self.cleanerID = cleanerID
        self.amountFen = amountFen
        self.idempotencyKey = idempotencyKey
    }
}

/// What a gateway said about one transfer. A refusal is an answer, not an error,
/// so every caller has to decide what a refused transfer means for its books
/// (the compiler will not let it be mistaken for a payment or retried as a
/// failure).
public enum PayoutResult: Sendable, Equatable {
    /// Transferred — now or earlier under the same idempotency key; the gateway's reference.
    case paid(reference: String)
    /// Refused for good (4xx: closed account, bad amount …): retrying cannot help.
    case rejected(reason: String)
}

/// Moves money to cleaners. `pay` may be called more than once for the same
/// instruction (a retry after a crash); implementations must rely on the
/// idempotency key so the cleaner is paid once.
public protocol PayoutProvider: Sendable {
    /// Throws `TransientDeliveryError` for failures worth retrying.
    func pay(_ instruction: PayoutInstruction) async throws -> PayoutResult
}

/// Development default: logs the transfer instead of making it.
public struct ConsolePayoutProvider: PayoutProvider {
    let log: JobLog

    public init(log: JobLog = PlatformLog.make()) {
        self.log = log
    }

    public func pay(_ instruction: PayoutInstruction) async throws -> PayoutResult {
        log.info("payout sent (console)", [
            ("cleaner_id", "\(instruction.cleanerID)"), ("amount_fen", "\(instruction.amountFen)"),
            ("idempotency_key", instruction.idempotencyKey),
        ])
        return .paid(reference: "console-\(instruction.idempotencyKey)")
    }
}
