import CommandLineInterface
import JobQueue
import PostgresClient

/// The admin CLI's one connection, as the administration API.
enum AdminConnection {
    static func administration(_ database: DatabaseOptions) -> JobAdministration {
        JobAdministration(database: PostgresPool(configuration: database.configuration, maxConnections: 1))
    }

    /// For commands that only read: the read URL's server when one is set.
    static func administration(_ database: ReadDatabaseOptions) -> JobAdministration {
        JobAdministration(database: PostgresPool(configuration: database.configuration, maxConnections: 1))
    }

    static func jobID(_ text: String, arguments: Arguments) throws -> Int64 {
        Int64(try arguments.integer(text, named: "job ID", in: 1...Int(Int64.max)))
    }

    /// Turns a refused change into an error the operator can act on.
    static func report(_ result: JobAdministration.ChangeResult, id: Int64, verb: String, done: String) throws {
        switch result {
        case .done: print("job \(id): \(done)")
        case .requested: print("job \(id) is running: cancel requested; its worker stops it at the next heartbeat")
        case .uniqueKeyTaken:
            throw CommandError.failed("job \(id) cannot run again: another unfinished job holds its unique key now")
        case .notFound: throw CommandError.failed("job \(id) does not exist (see `jobsctl jobs list`)")
        case .refused(let state):
            let hint = state == .running ? "; cancel it first with `jobsctl jobs cancel \(id)`" : ""
            throw CommandError.failed("job \(id) is \(state): cannot \(verb) it\(hint)")
        }
    }
}
