import BenchSupport
import CleaningPlatform
import Foundation
import PostgresClient
import Synchronization

/// The cleaners' side of the dispatch phase: one loop on a connection of its own
/// answers every open offer through the real answer functions, each in its own
/// transaction. Deterministic: a cleaner declines when (order id + cleaner id) is
/// divisible by 10 and accepts otherwise; an accept refused because it overlaps an
/// order the cleaner already took is followed by a decline, as the app asks.
final class OfferAnswerer: Sendable {
    private let pool: PostgresPool
    private let answers = Mutex<[String: Int]>([:])
    private let stopped = Atomic<Bool>(false)

    init(database: PostgresConfiguration) {
        pool = PostgresPool(configuration: database, maxConnections: 1, name: "bench-offer-answers")
    }

    static let accepted = "accepted"
    static let declined = "declined"

    /// Answers by outcome: accepted, declined, and each refusal's kind.
    var counts: [String: Int] { answers.withLock { $0 } }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Closes the loop's connection once `run()` has returned.
    func close() async { await pool.closeIdle() }

    func run() async throws {
        while !stopped.load(ordering: .relaxed) {
            let offers = try await pool.withConnection { try OrderDispatch.openOffers(on: $0).offers }
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
