import CleaningPlatform
import CommandLineInterface
import DemoData
import Foundation
import PostgresClient

/// `jobsctl dispatch start-waiting | simulate`
struct DispatchCommand: CommandGroup {
    static let name = "dispatch"
    static let summary = "order dispatch: start it for waiting orders, simulate cleaners (demo)"
    static let help = "Usage: jobsctl dispatch COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [DispatchStartWaitingCommand.self, DispatchSimulateCommand.self]
}

struct DispatchStartWaitingCommand: Command {
    static let name = "start-waiting"
    static let summary = "start dispatch for waiting orders of the coming days that have none"
    static let options: [CommandOption] = [.value("--days", "N", default: "7")] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl dispatch start-waiting [--days N]

        Starts dispatch for every waiting order (待接单) whose appointment lies in the
        next N days and that has no dispatch yet — orders loaded without being booked
        through the app, such as the demo data set's. Booking starts dispatch by itself.
        Each order's first offering round is queued on the dispatch queue; a worker runs
        it. Running it again starts nothing twice.

        Options:
          --days N             how far ahead, 1 to 60 (default 7)
        \(DatabaseOptions.help)
        """

    let days: Int
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        days = try arguments.integer("--days", in: 1...60) ?? 7
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let now = Date()
        let end = now.addingTimeInterval(Double(days) * 86_400)
        let connection = try PostgresConnection.connect(database.configuration)
        let started = try connection.withTransaction { try OrderDispatch.startWaiting(before: end, now: now, on: $0) }
        print("dispatch started for \(started) waiting orders of the next \(days) days")
    }
}

struct DispatchSimulateCommand: Command {
    static let name = "simulate"
    static let summary = "answer open offers as the demo's cleaners would (deterministic from a seed)"
    static let options: [CommandOption] = [
        .value("--seed", "N", default: "20261123"), .value("--seconds", "S", default: "300"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl dispatch simulate [--seed N] [--seconds S]

        Plays the cleaners of the demo: every open offer is accepted, declined or left
        to expire, the choice fixed by the seed for each order and cleaner (6 in 10
        accept, 2 decline, 2 ignore). Accepting goes through the same call as the app
        (the order is assigned, reminders and messages queued); an offer taken by
        someone else first is counted, not an error. Stops when no dispatch is still
        offering (escalated ones wait for their retry) or after S seconds.

        Options:
          --seed N             default 20261123 (the demo data set's)
          --seconds S          stop after this long at the latest (default 300)
        \(DatabaseOptions.help)
        """

    let cleaners: SimulatedCleaners
    let limit: Duration
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        cleaners = SimulatedCleaners(seed: UInt64(try arguments.integer("--seed", in: 0...Int(Int64.max)) ?? 20_261_123))
        limit = try arguments.seconds("--seconds", in: 1...86_400) ?? .seconds(300)
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let connection = try PostgresConnection.connect(database.configuration)
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var answered: Set<Int64> = []
        var counts: [String: Int] = [:]
        while clock.now < deadline {
            let (offers, offering) = try OrderDispatch.openOffers(on: connection)
            let fresh = offers.filter { !answered.contains($0.offerID) }
            if !offering && fresh.isEmpty { break }
            for offer in fresh {
                answered.insert(offer.offerID)
                let answer = cleaners.answer(orderID: offer.orderID, cleanerID: offer.cleanerID)
                do {
                    try connection.withTransaction { connection in
                        switch answer {
                        case .accept: try OrderDispatch.accept(offerID: offer.offerID, cleanerID: offer.cleanerID, now: Date(), on: connection)
                        case .decline: try OrderDispatch.decline(offerID: offer.offerID, cleanerID: offer.cleanerID, now: Date(), on: connection)
                        case .ignore: break
                        }
                    }
                    counts[answer.rawValue, default: 0] += 1
                } catch let refusal as OfferRefusal {
                    counts["refused: \(refusal.kind)", default: 0] += 1
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let line = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("simulated cleaners answered \(answered.count) offers: \(line.isEmpty ? "none" : line)")
    }
}
