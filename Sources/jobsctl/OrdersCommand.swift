import CleaningPlatform
import CommandLineInterface
import Foundation
import PostgresClient

/// `jobsctl orders complete ORDER [--at TIME]`
struct OrdersCommand: CommandGroup {
    static let name = "orders"
    static let summary = "order life cycle for the back office"
    static let help = "Usage: jobsctl orders COMMAND [OPTIONS]"
    static let subcommands: [any CommandDescription.Type] = [OrdersCompleteCommand.self]
}

struct OrdersCompleteCommand: Command {
    static let name = "complete"
    static let summary = "complete an order (records its payment; it counts in its week's payout)"
    static let options: [CommandOption] = [.value("--at", "TIME", default: "now")] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl orders complete ORDER [--at TIME]

        Completes order ORDER as the app does when the service ends: the order becomes
        已完成 at TIME, the customer's payment is posted to the ledger (cash and order
        clearing), the customer's tier upgrade and status message are queued. The payout
        run of the ISO week containing TIME (business time zone) settles it. An accepted
        order (已接单) is started and completed at TIME; a waiting order (待接单) needs a
        cleaner first, and a cancelled one cannot be completed. An order already
        completed is left as it is (exit 0).

        Arguments:
          ORDER                the order's id, e.g. 42

        Options:
          --at TIME            when it was completed (default: now): ISO 8601 with a zone
                               (2026-11-23T10:00:00+08:00) or a time ago like -10m
        \(DatabaseOptions.help)
        """

    let orderID: Int64
    let at: Date?
    let calendar: BusinessCalendar
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        orderID = try ExamsCommand.id(try arguments.required("ORDER (an order id)"), what: "ORDER", command: command)
        at = try arguments.time("--at", delaySign: "-")
        do {
            calendar = BusinessCalendar(timeZone: try BusinessTimeZone.fromEnvironment())
        } catch {
            throw CommandError.failed("\(error)")
        }
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let calendar = self.calendar
        let now = at ?? Date()
        let orderID = self.orderID
        let connection = try PostgresConnection.connect(database.configuration)
        let outcome = try connection.withTransaction { connection -> String in
            guard let row = try connection.query(
                "SELECT status, completed_at, paid_fen - refunded_fen FROM platform.orders WHERE id = $1 FOR UPDATE",
                [orderID]
            ).first else {
                throw CommandError.failed("order \(orderID) does not exist; check the id")
            }
            let (status, completedAt, paid) = try row.decode((String, Date?, Int64).self)
            switch status {
            case OrderStatus.completed:
                let shown = completedAt.map { ZonedTimeText.format($0, in: calendar.timeZone) } ?? "-"
                return "order \(orderID) was already completed at \(shown); nothing changed"
            case OrderStatus.waiting:
                throw CommandError.failed("order \(orderID) has no cleaner yet (\(status)); assign one before completing it")
            case OrderStatus.cancelled:
                throw CommandError.failed("order \(orderID) is cancelled; a cancelled order cannot be completed")
            case OrderStatus.accepted:
                try OrderBooking.start(orderID: orderID, now: now, on: connection)
            default:
                break
            }
            try OrderBooking.complete(orderID: orderID, now: now, on: connection)
            return "order \(orderID) completed at \(ZonedTimeText.format(now, in: calendar.timeZone)); payment \(PayoutReport.yuan(paid)) recorded"
        }
        print(outcome)
    }
}
