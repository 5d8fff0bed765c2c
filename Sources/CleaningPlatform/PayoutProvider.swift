public import JobQueue

/// One transfer to a cleaner.
public struct PayoutInstruction: Sendable, Equatable {
    public var itemID: Int64
    public var cleanerID: Int64
    public var amountFen: Int64
    /// Stable across retries ("payout-<item>"), so the bank or wallet gateway can
    /// refuse a second transfer for the same line.
    public var idempotencyKey: String
}

/// Moves money to cleaners. `pay` may be called more than once for the same
/// instruction (a retry after a crash); implementations must rely on the
/// idempotency key so the cleaner is paid once.
public protocol PayoutProvider: Sendable {
    /// Returns the gateway's reference; throws `TransientDeliveryError` for
    /// failures worth retrying.
    func pay(_ instruction: PayoutInstruction) async throws -> String
}

/// Development default: logs the transfer instead of making it.
public struct ConsolePayoutProvider: PayoutProvider {
    let log: JobLog

    public init(log: JobLog = JobLog()) {
        self.log = log
    }

    public func pay(_ instruction: PayoutInstruction) async throws -> String {
        log.info("payout sent (console)", [
            ("cleaner_id", "\(instruction.cleanerID)"), ("amount_fen", "\(instruction.amountFen)"),
            ("idempotency_key", instruction.idempotencyKey),
        ])
        return "console-\(instruction.idempotencyKey)"
    }
}
