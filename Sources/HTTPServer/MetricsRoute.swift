/// The one route a Prometheus scrape needs: `GET /metrics` answers with the text
/// exposition `render` returns; other paths are 404 and other methods 405.
public enum MetricsRoute {
    public static let path = "/metrics"
    /// Prometheus' text exposition format, version 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func handler(render: @escaping @Sendable () async -> String) -> HTTPServer.Handler {
        { request in
            guard request.path == path else { return .text(404, "Not Found") }
            guard request.method == "GET" else { return .text(405, "Method Not Allowed", headers: [("Allow", "GET")]) }
            return HTTPResponse(status: 200, reason: "OK", contentType: contentType, body: Array(await render().utf8))
        }
    }
}
