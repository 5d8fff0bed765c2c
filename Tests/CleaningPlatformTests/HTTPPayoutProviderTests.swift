import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// A payout gateway on the stub server that honours idempotency keys: the first
/// 2xx for a key is the transfer, later ones answer with the same reference. It
/// can fail a key's first request, or refuse everything, as told.
final class PayoutGatewayStub: Sendable {
    private struct State {
        var failFirstFor: Set<Int64> = []
        var failed: Set<String> = []
        var refuse: String?
        /// Idempotency key → how many transfers were made under it.
        var transfers: [String: Int] = [:]
    }

    private let state = Mutex(State())

    init(failFirstFor cleaners: Set<Int64> = [], refuse reason: String? = nil) {
        state.withLock {
            $0.failFirstFor = cleaners
            $0.refuse = reason
        }
    }

    /// Stops refusing (the cause was fixed).
    func accept() { state.withLock { $0.refuse = nil } }

    var transfers: [String: Int] { state.withLock { $0.transfers } }

    func answer(_ request: StubHTTPServer.Request) -> StubHTTPServer.Response {
        let key = request.header("Idempotency-Key") ?? ""
        let object = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any]
        let cleaner = (object?["cleaner_id"] as? NSNumber)?.int64Value ?? -1
        return state.withLock { state in
            if let reason = state.refuse {
                return .init(status: 400, body: #"{"error": "\#(reason)"}"#)
            }
            if state.failFirstFor.contains(cleaner), state.failed.insert(key).inserted {
                return .init(status: 500, body: "upstream bank unavailable", contentType: "text/plain")
            }
            if state.transfers[key] == nil { state.transfers[key] = 1 }
            return .init(status: 200, body: #"{"reference": "TRX-\#(key)", "status": "accepted"}"#)
        }
    }
}

final class HTTPPayoutProviderTests: XCTestCase {
    private static let token = "payout-token-7d41"
    /// Path and query stand for what a real endpoint carries (account, signature):
    /// neither may be logged.
    private static let path = "v2/transfers"
    private static let query = "merchant=acct-5531"

    private func makeProvider(
        _ server: StubHTTPServer, timeout: Duration = .seconds(5), log: JobLog = .silent
    ) throws -> HTTPPayoutProvider {
        HTTPPayoutProvider(
            endpoint: try XCTUnwrap(URL(string: "\(server.baseURL.absoluteString)/\(Self.path)?\(Self.query)")),
            timeout: timeout, bearerToken: Self.token, log: log)
    }

    private func instruction(item: Int64 = 41, cleaner: Int64 = 7, fen: Int64 = 17_249) -> PayoutInstruction {
        PayoutInstruction(itemID: item, cleanerID: cleaner, amountFen: fen, idempotencyKey: "payout-\(item)")
    }

    // MARK: The provider alone

    func testSuccessIsPaidWithTheGatewaysReferenceOrOneFromTheKey() async throws {
        let server = try makeServer { request in
            request.header("Idempotency-Key") == "payout-41"
                ? .init(status: 200, body: #"{"reference": "TRX-20260101-0042", "status": "accepted"}"#)
                : .init(status: 201, body: "")
        }
        let capture = LogCapture()
        let provider = try makeProvider(server, log: capture.log)

        let withReference = try await provider.pay(instruction())
        let withoutBody = try await provider.pay(instruction(item: 42))

        XCTAssertEqual(withReference, .paid(reference: "TRX-20260101-0042"))
        XCTAssertEqual(withoutBody, .paid(reference: "http-payout-42"))
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/\(Self.path)?\(Self.query)")
        XCTAssertEqual(request.header("Content-Type"), "application/json")
        XCTAssertEqual(request.header("Idempotency-Key"), "payout-41")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["item_id", "cleaner_id", "amount_fen", "currency", "idempotency_key"])
        XCTAssertEqual(json["item_id"] as? Int, 41)
        XCTAssertEqual(json["cleaner_id"] as? Int, 7)
        XCTAssertEqual(json["currency"] as? String, "CNY")
        XCTAssertEqual(json["idempotency_key"] as? String, "payout-41")
        XCTAssertTrue(request.bodyText.contains(#""amount_fen":17249,"#), "an integer of fen: \(request.bodyText)")

        XCTAssertEqual(capture.lines.count, 2, "one line per transfer")
        XCTAssertTrue(capture.text.contains(#"msg="payout sent (http)""#), capture.text)
        XCTAssertTrue(capture.text.contains("reference=TRX-20260101-0042"), capture.text)
        XCTAssertTrue(capture.text.contains("amount_fen=17249"), capture.text)
    }

    func testHangingGatewayTimesOutAsTransient() async throws {
        let server = try makeServer { _ in .init(status: 200, body: "{}", delaySeconds: 10) }
        let provider = try makeProvider(server, timeout: .milliseconds(700))
        do {
            let result = try await provider.pay(instruction())
            XCTFail("expected TransientDeliveryError, got \(result)")
        } catch let error as TransientDeliveryError {
            XCTAssertTrue(error.reason.contains("timed out"), error.reason)
        }
        XCTAssertEqual(server.requests.count, 1, "the request reached the gateway before it hung")
    }

    func testTokenIsSentAsAHeaderAndNeverLogged() async throws {
        let server = try makeServer { request in
            switch request.header("Idempotency-Key") {
            case "payout-1": .init(status: 200, body: #"{"id": 90001}"#)
            case "payout-2": .init(status: 403, body: #"{"error": {"message": "payee 13812345678 blocked"}}"#)
            case "payout-3": .init(status: 503, body: "maintenance", contentType: "text/plain")
            default: nil  // never answers
            }
        }
        let capture = LogCapture()
        let provider = try makeProvider(server, timeout: .milliseconds(700), log: capture.log)

        let paid = try await provider.pay(instruction(item: 1))
        let refused = try await provider.pay(instruction(item: 2))
        for item: Int64 in [3, 4] {
            do {
                let result = try await provider.pay(instruction(item: item))
                XCTFail("expected TransientDeliveryError, got \(result)")
            } catch is TransientDeliveryError {}
        }

        XCTAssertEqual(paid, .paid(reference: "90001"))
        XCTAssertEqual(refused, .rejected(reason: "HTTP 403: payee 138****5678 blocked"))
        XCTAssertEqual(server.requests.count, 4)
        for request in server.requests {
            XCTAssertEqual(request.header("Authorization"), "Bearer \(Self.token)")
        }
        XCTAssertEqual(capture.lines.count, 4, "one line per transfer: \(capture.text)")
        for message in ["payout sent (http)", "payout rejected (http)", "payout failed (http)"] {
            XCTAssertTrue(capture.text.contains(#"msg="\#(message)""#), capture.text)
        }
        XCTAssertTrue(capture.text.contains("endpoint_host=127.0.0.1"), capture.text)
        for secret in [Self.token, Self.path, Self.query, "acct-5531", "13812345678"] {
            XCTAssertFalse(capture.text.contains(secret), "\(secret) logged: \(capture.text)")
        }
    }

    // MARK: Through the payout run

    private struct Item {
        var id: Int64
        var status: String
        var reference: String?
    }

    private func items(_ runID: Int64, _ fixture: PlatformFixture) async throws -> [Int64: Item] {
        let rows = try await fixture.pool.query(
            "SELECT cleaner_id, id, status, provider_reference FROM platform.payout_items WHERE run_id = $1", [runID]
        ).rows.map { try $0.decode((Int64, Int64, String, String?).self) }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.0, Item(id: $0.1, status: $0.2, reference: $0.3)) })
    }

    /// The run's settlement jobs by cleaner: (id, state, attempts, last error).
    private func settlementJobs(
        _ runID: Int64, _ fixture: PlatformFixture
    ) async throws -> [Int64: JobAdministration.KindJob<SettleCleanerPayout>] {
        let jobs = try await fixture.jobs(SettleCleanerPayout.self, batch: "payout-run-\(runID)")
        return Dictionary(uniqueKeysWithValues: jobs.map { ($0.arguments.cleanerID, $0) })
    }

    /// Ledger transactions posting the payout of an item.
    private func payoutPostings(_ itemID: Int64, _ fixture: PlatformFixture) async throws -> Int64 {
        try await fixture.pool.query(
            "SELECT count(*)::int8 FROM platform.ledger_transactions WHERE reference = $1", ["payout:\(itemID)"]
        ).scalar(Int64.self)
    }

    private func services(_ server: StubHTTPServer) throws -> PlatformServices {
        PlatformServices(provider: RecordingProvider(), payouts: try makeProvider(server), log: .silent)
    }

    func testARefusedTransferIsRecordedNotRetriedNotPaidUntilTheJobIsRetried() async throws {
        let fixture = try PlatformFixture()
        let period = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        let cleaner = try await fixture.cleaner(level: "新手")
        try await fixture.completedOrder(
            customer: customer, cleaner: cleaner, paid: 10_000, at: period.start.addingTimeInterval(3600))
        let gateway = PayoutGatewayStub(refuse: "beneficiary account closed")
        let server = try makeServer { gateway.answer($0) }
        let connection = try TestDatabase.connect()
        let run = try PayoutRun.start(period, on: connection)

        let finishedRuns = {
            try await fixture.jobs(FinishPayoutRun.self, state: .completed).filter { $0.arguments.runID == run.runID }.count
        }
        let discarded = try await fixture.running(try services(server)) {
            let discarded = try await fixture.eventually(timeout: .seconds(60)) {
                try await self.settlementJobs(run.runID, fixture)[cleaner]?.state == .discarded
            }
            // Finance runs the period again before the cause is fixed: its callback
            // finds the refusal still there and leaves the run open.
            _ = try await fixture.eventually { try await finishedRuns() == 1 }
            _ = try PayoutRun.start(period, on: connection)
            _ = try await fixture.eventually { try await finishedRuns() == 2 }
            return discarded
        }
        XCTAssertTrue(discarded)
        let finished = try await finishedRuns()
        XCTAssertEqual(finished, 2)
        let reason = "payout rejected by the gateway: HTTP 400: beneficiary account closed"
        let jobs = try await settlementJobs(run.runID, fixture)
        let job = try XCTUnwrap(jobs[cleaner])
        XCTAssertEqual(job.attempt, 1, "not retried")
        XCTAssertEqual(job.lastError, reason, "the reason is on the job")
        XCTAssertEqual(try PayoutRun.failures(run.runID, on: connection).map(\.cleanerID), [cleaner])
        XCTAssertEqual(try PayoutRun.failures(run.runID, on: connection).map(\.reason), [reason])
        XCTAssertEqual(server.requests.count, 1)
        let itemsBefore = try await items(run.runID, fixture)
        let refused = try XCTUnwrap(itemsBefore[cleaner])
        XCTAssertEqual(refused.status, "settled", "not paid")
        XCTAssertNil(refused.reference)
        let postings = try await payoutPostings(refused.id, fixture)
        XCTAssertEqual(postings, 0, "no payout in the ledger")
        let wallet = try await fixture.ledgerBalance("cleaner:\(cleaner):wallet")
        XCTAssertEqual(wallet, -7_500, "the settled 7 500 fen are still owed to the cleaner")
        let unbalanced = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalanced, 0)
        XCTAssertFalse(try PayoutRun.isComplete(run.runID, on: connection))

        // While the refused line waits for its retry, its 7 500 fen are earmarked: a
        // withdrawal of them would pay the cleaner twice once the retry succeeds.
        let withdrawal = try await fixture.pool.query(
            "INSERT INTO platform.withdrawals (cleaner_id, amount_fen) VALUES ($1, 7500) RETURNING id", [cleaner]
        ).scalar(Int64.self)
        let withdrawalJob = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(ProcessWithdrawalArguments(withdrawalID: withdrawal), queue: PayoutRun.queue))
        let decided = try await fixture.running(try services(server)) {
            try await fixture.eventually {
                try await fixture.jobState(withdrawalJob.id) == .completed
            }
        }
        XCTAssertTrue(decided)
        let withdrawalRow = try await fixture.pool.query(
            "SELECT status, reason FROM platform.withdrawals WHERE id = $1", [withdrawal]).first
        let (withdrawalStatus, withdrawalReason) = try XCTUnwrap(try withdrawalRow?.decode((String, String?).self))
        XCTAssertEqual(withdrawalStatus, "rejected")
        XCTAssertEqual(
            withdrawalReason,
            "insufficient balance: requested 7500 fen, wallet holds 7500 fen of which 7500 fen are settled in a payout run and paid out by it")
        XCTAssertEqual(server.requests.count, 1, "no transfer for the withdrawal")

        // Fixed at the gateway: retrying the job pays with the same key, and running
        // the period again completes it.
        gateway.accept()
        let retried = try await JobAdministration(database: fixture.pool).retry(job.id)
        XCTAssertEqual(retried, .done)
        let completed = try await fixture.running(try services(server)) {
            _ = try await fixture.eventually(timeout: .seconds(60)) {
                try await self.items(run.runID, fixture)[cleaner]?.status == "paid"
            }
            _ = try PayoutRun.start(period, on: connection)
            return try await fixture.eventually(timeout: .seconds(60)) { try PayoutRun.isComplete(run.runID, on: connection) }
        }
        XCTAssertTrue(completed)
        XCTAssertEqual(server.requests.map { $0.header("Idempotency-Key") }, ["payout-\(refused.id)", "payout-\(refused.id)"])
        let itemsAfter = try await items(run.runID, fixture)
        XCTAssertEqual(itemsAfter[cleaner]?.status, "paid")
        XCTAssertEqual(itemsAfter[cleaner]?.reference, "TRX-payout-\(refused.id)")
        let walletAfter = try await fixture.ledgerBalance("cleaner:\(cleaner):wallet")
        XCTAssertEqual(walletAfter, 0)
        let unbalancedAfter = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalancedAfter, 0)
    }

    /// The console's one-click retry: the refused transfer's job runs again with the
    /// same key, a second click finds nothing to retry, and the run completes
    /// without finance starting the period again.
    func testRetryingARefusedTransferPaysItOnceAndCompletesTheRun() async throws {
        let fixture = try PlatformFixture()
        let period = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        let cleaner = try await fixture.cleaner(level: "新手")
        try await fixture.completedOrder(
            customer: customer, cleaner: cleaner, paid: 10_000, at: period.start.addingTimeInterval(3600))
        let gateway = PayoutGatewayStub(refuse: "beneficiary account closed")
        let server = try makeServer { gateway.answer($0) }
        let connection = try TestDatabase.connect()
        let run = try PayoutRun.start(period, on: connection)
        let refused = try await fixture.running(try services(server)) {
            try await fixture.eventually(timeout: .seconds(60)) {
                try PayoutRun.failures(run.runID, on: connection).map(\.cleanerID) == [cleaner]
            }
        }
        XCTAssertTrue(refused)

        gateway.accept()
        let zone = TimeZone(identifier: "Asia/Shanghai")!
        let retried = try await PayoutRun.retryFailedTransfer(runID: run.runID, cleanerID: cleaner, timeZone: zone, on: fixture.pool)
        XCTAssertTrue(retried)
        let twice = try await PayoutRun.retryFailedTransfer(runID: run.runID, cleanerID: cleaner, timeZone: zone, on: fixture.pool)
        XCTAssertFalse(twice, "a second click finds nothing to retry")
        let completed = try await fixture.running(try services(server)) {
            try await fixture.eventually(timeout: .seconds(60)) { try PayoutRun.isComplete(run.runID, on: connection) }
        }
        XCTAssertTrue(completed, "the run completes once the retried transfer is paid")
        let line = try await items(run.runID, fixture)[cleaner]
        XCTAssertEqual(line?.status, "paid")
        let itemID = try XCTUnwrap(line?.id)
        XCTAssertEqual(server.requests.map { $0.header("Idempotency-Key") }, ["payout-\(itemID)", "payout-\(itemID)"])
        let postings = try await payoutPostings(itemID, fixture)
        XCTAssertEqual(postings, 1, "paid once")
        let wallet = try await fixture.ledgerBalance("cleaner:\(cleaner):wallet")
        XCTAssertEqual(wallet, 0)
    }

    func testServerErrorIsRetriedWithTheSameKeyAndEveryCleanerIsPaidOnce() async throws {
        let fixture = try PlatformFixture()
        let period = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        var cleaners: [Int64] = []
        for index in 0..<5 {
            let cleaner = try await fixture.cleaner(level: ["新手", "熟练", "金牌"][index % 3])
            cleaners.append(cleaner)
            try await fixture.completedOrder(
                customer: customer, cleaner: cleaner, paid: Int64(8_000 + 100 * index),
                at: period.start.addingTimeInterval(3600))
        }
        let unlucky = cleaners[2]
        let gateway = PayoutGatewayStub(failFirstFor: [unlucky])
        let server = try makeServer { gateway.answer($0) }
        let connection = try TestDatabase.connect()
        let run = try PayoutRun.start(period, on: connection)

        let completed = try await fixture.running(try services(server)) {
            try await fixture.eventually(timeout: .seconds(60)) { try PayoutRun.isComplete(run.runID, on: connection) }
        }
        XCTAssertTrue(completed)

        let items = try await items(run.runID, fixture)
        XCTAssertEqual(Set(items.keys), Set(cleaners))
        let keys = Set(items.values.map { "payout-\($0.id)" })
        XCTAssertEqual(gateway.transfers, Dictionary(uniqueKeysWithValues: keys.map { ($0, 1) }), "one transfer per key")
        let requestKeys = server.requests.compactMap { $0.header("Idempotency-Key") }
        let unluckyKey = "payout-\(try XCTUnwrap(items[unlucky]).id)"
        XCTAssertEqual(requestKeys.count, cleaners.count + 1, "one retry, for the 500")
        XCTAssertEqual(requestKeys.filter { $0 == unluckyKey }.count, 2, "the retry carried the same key")
        for (cleaner, item) in items {
            XCTAssertEqual(item.status, "paid", "cleaner \(cleaner)")
            XCTAssertEqual(item.reference, "TRX-payout-\(item.id)")
            let postings = try await payoutPostings(item.id, fixture)
            XCTAssertEqual(postings, 1, "cleaner \(cleaner) paid once in the ledger")
            let wallet = try await fixture.ledgerBalance("cleaner:\(cleaner):wallet")
            XCTAssertEqual(wallet, 0, "cleaner \(cleaner): settled and paid out")
        }
        let jobs = try await settlementJobs(run.runID, fixture)
        XCTAssertEqual(jobs[unlucky]?.attempt, 2)
        XCTAssertEqual(jobs[unlucky]?.lastError, "HTTP 500: upstream bank unavailable")
        let unbalanced = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalanced, 0)
    }

    func testARefusedWithdrawalIsReversedAndRejectedWithTheReason() async throws {
        let fixture = try PlatformFixture()
        let cleaner = try await fixture.cleaner(level: "新手")
        try await fixture.creditWallet(of: cleaner, fen: 1_000)
        let withdrawal = try await fixture.pool.query(
            "INSERT INTO platform.withdrawals (cleaner_id, amount_fen) VALUES ($1, 600) RETURNING id", [cleaner]
        ).scalar(Int64.self)
        let server = try makeServer { _ in .init(status: 422, body: #"{"message": "daily limit exceeded"}"#) }
        let job = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(ProcessWithdrawalArguments(withdrawalID: withdrawal), queue: PayoutRun.queue))

        let finished = try await fixture.running(try services(server)) {
            try await fixture.eventually {
                try await fixture.jobState(job.id) == .completed
            }
        }
        XCTAssertTrue(finished)
        let row = try await fixture.pool.query(
            "SELECT status, reason FROM platform.withdrawals WHERE id = $1", [withdrawal]).first
        let (status, reason) = try XCTUnwrap(try row?.decode((String, String?).self))
        XCTAssertEqual(status, "rejected")
        XCTAssertEqual(reason, "payout rejected by the gateway: HTTP 422: daily limit exceeded")
        XCTAssertEqual(server.requests.count, 1)
        let wallet = try await fixture.ledgerBalance("cleaner:\(cleaner):wallet")
        XCTAssertEqual(wallet, -1_000, "the 600 fen are back in the wallet")
        let cash = try await fixture.pool.query(
            """
            SELECT COALESCE(sum(e.amount_fen), 0)::int8 FROM platform.ledger_entries AS e
            JOIN platform.ledger_transactions AS t ON t.id = e.transaction_id
            JOIN platform.ledger_accounts AS a ON a.id = e.account_id
            WHERE a.code = 'platform:cash' AND t.reference IN ($1, $2)
            """, ["withdrawal:\(withdrawal)", "withdrawal-reversal:\(withdrawal)"]
        ).scalar(Int64.self)
        XCTAssertEqual(cash, 0, "no cash left for this withdrawal")
        let unbalanced = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalanced, 0)
    }
}
