import CommandLineInterface
import JobQueue
import PostgresClient

/// The admin CLI's one connection, as the administration API.
enum AdminConnection {
    static func administration(_ database: DatabaseOptions) -> JobAdministration {
        JobAdministration(database: PostgresPool(configuration: database.configuration, maxConnections: 1))
    }

    static func jobID(_ text: String, command: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else {
            throw CommandError.usage("job id must be a positive whole number, got \"\(text)\"", command: command)
        }
        return id
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
