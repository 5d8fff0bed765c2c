import CleaningPlatform
import CommandLineInterface
import Console
import Dispatch
import Foundation
import PostgresClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `jobsctl console [--port 8080] [--host 127.0.0.1]`: serves the operator and finance
/// web console until SIGTERM or SIGINT. A jobsctl command rather than its own
/// program: it is an administrator's tool, next to `jobsctl console-user` that
/// creates its users, and shares jobsctl's database options.
struct ConsoleCommand: Command {
    static let name = "console"
    static let summary = "serve the operator and finance web console (log in with a console-user)"
    static let options: [CommandOption] = [
        .value("--port", "PORT", default: "8080"), .value("--host", "ADDRESS", default: "127.0.0.1"),
    ] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl console [--port PORT] [--host ADDRESS]

        Serves the web console: overview, jobs (filters by state, queue, kind, tag,
        time and arguments; actions on one, selected or all matching jobs), queues,
        cron, payouts and the audit of every action. Users log in with a name and
        password created by `jobsctl console-user`; roles: viewer, operator, finance.
        Binds to loopback unless --host says otherwise. The database user needs
        membership of cleaning_console, cleaning_console_viewer, cleaning_console_operator
        and cleaning_console_finance (best: a NOINHERIT login role holding nothing else).

        Options:
          --port PORT          TCP port (default 8080; 0 picks a free one)
          --host ADDRESS       address to bind (default 127.0.0.1)
        \(DatabaseOptions.help)
        """

    let port: Int
    let host: String
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        port = try arguments.integer("--port", in: 0...65_535) ?? 8080
        host = try arguments.option("--host") ?? "127.0.0.1"
        guard !host.isEmpty else { throw CommandError.usage("--host is empty; give an address such as 127.0.0.1", command: arguments.commandName) }
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        let zone: TimeZone
        do {
            zone = try BusinessTimeZone.fromEnvironment()
        } catch {
            throw CommandError.failed("\(error)")
        }
        // Its pages count days and weeks in `zone`: checked once, before serving.
        _ = try BusinessZoneConnection.connect(database.configuration, countingIn: zone)
        let console: ConsoleServer
        do {
            console = try ConsoleServer(
                database: ConsoleDatabase(configuration: database.configuration), timeZone: zone, port: port, host: host)
        } catch {
            throw CommandError.failed("cannot serve the console on \(host):\(port): \(error); pick a free port")
        }
        console.start()
        let shownHost = host.contains(":") ? "[\(host)]" : host
        print("console: http://\(shownHost):\(console.port)/")
        fflush(nil)  // all streams: the C `stdout` global is not concurrency-safe in Swift 6
        await Self.untilSignalled()
        console.stop()
    }

    /// Returns at the first SIGTERM or SIGINT.
    private static func untilSignalled() async {
        let queue = DispatchQueue(label: "console.signals")
        var sources: [any DispatchSourceSignal] = []
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = OnceFlag()
            sources = [SIGTERM, SIGINT].map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler { if once.claim() { continuation.resume() } }
                source.resume()
                return source
            }
        }
        sources.forEach { $0.cancel() }
    }
}

/// True for the first caller only.
private final class OnceFlag: Sendable {
    private let claimed = Mutex(false)
    func claim() -> Bool {
        claimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
    }
}

/// `jobsctl console-user NAME --role ROLE`: creates or replaces a console user; the
/// password is read from standard input (never from argv, where `ps` shows it).
struct ConsoleUserCommand: Command {
    static let name = "console-user"
    static let summary = "create or replace a console user (password read from standard input)"
    static let options: [CommandOption] = [.value("--role", "viewer|operator|finance")] + DatabaseOptions.options
    static let help = """
        Usage: jobsctl console-user NAME --role viewer|operator|finance < password-file

        Creates the console user NAME, or replaces its password and role (ending its
        sessions). The password is the first line of standard input, 8 to 72 bytes;
        it is hashed in PostgreSQL with bcrypt and never printed or logged.
        Example: printf '%s\\n' "$PASSWORD" | jobsctl console-user li.wei --role operator

        Options:
          --role ROLE          e.g. operator: viewer (sees, sensitive data masked),
                               operator (acts on jobs and queues) or finance (also runs payouts)
        \(DatabaseOptions.help)
        """

    let userName: String
    let role: ConsoleRole
    let database: DatabaseOptions

    init(arguments: inout Arguments) throws {
        let command = arguments.commandName
        userName = try arguments.required("NAME")
        guard userName.range(of: "^[A-Za-z0-9_.@-]{1,64}$", options: .regularExpression) != nil else {
            throw CommandError.usage("NAME has 1 to 64 letters, digits or _.@- (e.g. li.wei)", command: command)
        }
        guard let text = try arguments.option("--role") else {
            throw CommandError.usage("--role is required: viewer, operator or finance", command: command)
        }
        guard let role = ConsoleRole(rawValue: text) else {
            throw CommandError.usage("--role \"\(text)\" is unknown: viewer, operator or finance", command: command)
        }
        self.role = role
        database = try DatabaseOptions(arguments: &arguments)
    }

    func run() async throws {
        guard let line = readLine(strippingNewline: true), (8...72).contains(line.utf8.count) else {
            throw CommandError.failed("give the password (8 to 72 bytes) as the first line of standard input")
        }
        let connection = try PostgresConnection.connect(database.configuration)
        try ConsoleSession.setUser(name: userName, password: line, role: role, on: connection)
        print("console user \(userName): role \(role.rawValue)")
    }
}
