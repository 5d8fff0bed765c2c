import BenchSupport
import CleaningPlatform
import Foundation
import PostgresClient
import Synchronization

/// The cleaners' side of the dispatch phase: `loops` loops, each on a connection of
/// its own and answering for the cleaners whose id modulo `loops` is its number,
/// answer every open offer through the real answer functions, each in its own
/// transaction. Deterministic: a cleaner declines when (order id + cleaner id) is
/// divisible by 10 and accepts otherwise; an accept refused because it overlaps an
/// order the cleaner already took is followed by a decline, as the app asks. Any
/// other error ends the run (the phase reports it).
final class OfferAnswerer: Sendable {
    private let pool: PostgresPool
    private let loops: Int
    private let answers = Mutex<[String: Int]>([:])
    private let stopped = Atomic<Bool>(false)
    private let failed = Mutex<String?>(nil)

    init(database: PostgresConfiguration, loops: Int) {
        self.loops = loops
        pool = PostgresPool(configuration: database, maxConnections: loops, name: "bench-offer-answers")
    }

    static let accepted = "accepted"
    static let declined = "declined"

    /// Answers by outcome: accepted, declined, and each refusal's kind.
    var counts: [String: Int] { answers.withLock { $0 } }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Closes the loop's connection once `run()` has returned.
    func close() async { await pool.closeIdle() }

    /// Why the answering stopped early, if it did.
    var failure: String? { failed.withLock { $0 } }

    func run() async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for loop in 0..<loops { group.addTask { try await self.answer(share: loop) } }
                try await group.waitForAll()
            }
        } catch {
            failed.withLock { $0 = "\(error)" }
            throw error
        }
    }

    private func answer(share: Int) async throws {
        while !stopped.load(ordering: .relaxed) {
            let offers = try await pool.withConnection { try OrderDispatch.openOffers(on: $0).offers }
                .filter { Int($0.cleanerID % Int64(loops)) == share }
            if offers.isEmpty {
                try await Task.sleep(for: .milliseconds(5))
                continue
            }
            for offer in offers {
                if stopped.load(ordering: .relaxed) { return }
                try await answer(offer)
            }
        }
    }

    private func answer(_ offer: OrderDispatch.OpenOffer) async throws {
        if (offer.orderID + offer.cleanerID) % 10 == 0 {
            try await decline(offer)
            return
        }
        do {
            _ = try await pool.withTransaction {
                try OrderDispatch.accept(offerID: offer.offerID, cleanerID: offer.cleanerID, now: Date(), on: $0)
            }
            count(Self.accepted)
        } catch let refusal as OfferRefusal {
            count(refusal.kind)
            if case .overlapsAcceptedOrder = refusal { try await decline(offer) }
        }
    }

    private func decline(_ offer: OrderDispatch.OpenOffer) async throws {
        do {
            try await pool.withTransaction {
                try OrderDispatch.decline(offerID: offer.offerID, cleanerID: offer.cleanerID, now: Date(), on: $0)
            }
            count(Self.declined)
        } catch let refusal as OfferRefusal {
            count("decline: " + refusal.kind)
        }
    }

    private func count(_ outcome: String) {
        answers.withLock { $0[outcome, default: 0] += 1 }
    }
}
