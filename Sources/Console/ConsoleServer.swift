public import Foundation
public import HTTPServer
import JobQueue
import PostgresClient

/// The operator and finance web console: an `HTTPServer` whose handler checks the
/// session, the role and the CSRF token, then renders a page or runs an action on
/// the connection pool of the user's role.
public final class ConsoleServer: Sendable {
    public let server: HTTPServer

    /// Bodies are small forms; anything larger is refused (413) before a handler runs.
    public static let maxRequestBytes = 16 * 1024

    /// Binds at once (loopback by default): a taken port fails here.
    public init(
        database: ConsoleDatabase, timeZone: TimeZone, port: Int, host: String = "127.0.0.1",
        refreshInterval: Duration = .seconds(2)
    ) throws {
        let application = ConsoleApplication(database: database, timeZone: timeZone, refreshInterval: refreshInterval)
        server = try HTTPServer(
            port: port, host: host, maxRequestBytes: Self.maxRequestBytes, handlerTimeout: .seconds(30)
        ) { request in await application.handle(request) }
    }

    public var port: Int { server.port }

    public func start() { server.start() }
    public func stop() { server.stop() }
}
