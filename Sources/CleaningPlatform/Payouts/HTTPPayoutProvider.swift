public import Foundation
public import JobQueue

/// Pays cleaners through a bank or wallet gateway that takes one JSON POST per
/// transfer.
///
/// Request body: `{"amount_fen", "cleaner_id", "currency": "CNY",
/// "idempotency_key", "item_id"}` — the amount an integer number of fen, never a
/// decimal — with the idempotency key also in the `Idempotency-Key` header (the
/// gateway may honour either), `Content-Type: application/json` and, when
/// configured, `Authorization: Bearer …`. The key is the same on every retry, so
/// a gateway that already made the transfer answers with it instead of paying
/// again.
///
/// Answers are sorted by `JSONPostClient`: 2xx is paid, with the gateway's
/// `reference` (or `id`) from a JSON body, else `http-<idempotency key>` — the
/// key is what the gateway files the transfer under; 4xx other than 408 and 429
/// is `.rejected` with the gateway's reason (retrying cannot help); 5xx, 408,
/// 429, timeouts and connection failures throw `TransientDeliveryError` so the
/// job is retried with the same key. The whole exchange is bounded by `timeout`.
///
/// Logs one line per transfer: ids, amount, key, outcome. Never the bearer token,
/// the endpoint's path or query, or a phone number (gateway texts are masked).
public final class HTTPPayoutProvider: PayoutProvider {
    private let client: JSONPostClient
    private let log: JobLog

    /// `timeout` is longer than the notification gateway's: a transfer waits on a
    /// bank, and a transfer that timed out is retried with the same key anyway.
    public init(endpoint: URL, timeout: Duration = .seconds(10), bearerToken: String? = nil, log: JobLog) {
        client = JSONPostClient(endpoint: endpoint, timeout: timeout, bearerToken: bearerToken)
        self.log = log
    }

    public func pay(_ instruction: PayoutInstruction) async throws -> PayoutResult {
        let reply = try await client.post(Payload(instruction), idempotencyKey: instruction.idempotencyKey)
        let fields = [
            ("item_id", String(instruction.itemID)),
            ("cleaner_id", String(instruction.cleanerID)),
            ("amount_fen", String(instruction.amountFen)),
            ("idempotency_key", instruction.idempotencyKey),
        ]
        switch reply.verdict {
        case .accepted(let data):
            let reference = JSONPostClient.identifier(in: data, keys: ["reference", "id"])
                ?? "http-\(instruction.idempotencyKey)"
            log.info("payout sent (http)", fields + [("reference", PhoneMask.maskAll(in: reference))] + reply.logFields)
            return .paid(reference: reference)
        case .rejected(let reason):
            log.warning("payout rejected (http)", fields + [("reason", reason)] + reply.logFields)
            return .rejected(reason: reason)
        case .transient(let failure):
            log.warning("payout failed (http)", fields + [("error", failure.reason)] + reply.logFields)
            throw failure
        }
    }

    /// The wire form: snake_case keys, independent of `PayoutInstruction`'s
    /// Swift names so renaming a property cannot change the protocol.
    private struct Payload: Encodable {
        var itemID: Int64
        var cleanerID: Int64
        var amountFen: Int64
        var currency = "CNY"
        var idempotencyKey: String

        init(_ instruction: PayoutInstruction) {
            itemID = instruction.itemID
            cleanerID = instruction.cleanerID
            amountFen = instruction.amountFen
            idempotencyKey = instruction.idempotencyKey
        }

        enum CodingKeys: String, CodingKey {
            case itemID = "item_id"
            case cleanerID = "cleaner_id"
            case amountFen = "amount_fen"
            case currency
            case idempotencyKey = "idempotency_key"
        }
    }
}
