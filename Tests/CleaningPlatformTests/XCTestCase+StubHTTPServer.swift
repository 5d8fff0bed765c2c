import TestSupport
import XCTest

extension XCTestCase {
    /// A stub HTTP server for this test, stopped when the test ends (pass or fail),
    /// so no listening thread or port outlives it.
    func makeServer(
        _ handler: @escaping @Sendable (StubHTTPServer.Request) -> StubHTTPServer.Response?
    ) throws -> StubHTTPServer {
        let server = try StubHTTPServer(handler: handler)
        addTeardownBlock { server.stop() }
        return server
    }
}
