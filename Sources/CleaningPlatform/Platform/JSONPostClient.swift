import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One JSON POST to an outside gateway, answered or not within a deadline, and
/// sorted by what a retry can achieve. The notification and the payout gateways
/// speak the same way, so they share this and differ only in their payloads and
/// log lines.
///
/// Every request carries `Content-Type: application/json`, `Idempotency-Key` (the
/// caller keeps it stable across retries, so a gateway that already acted does
/// not act twice) and, when configured, `Authorization: Bearer …`.
///
/// Answers: 2xx is accepted; 4xx is rejected for good (the gateway's reason is
/// kept), except 408 and 429, which say "later"; 5xx, other statuses, timeouts
/// and connection failures are transient, for the job to retry with backoff.
///
/// The whole exchange is bounded by `timeout`, enforced here rather than left to
/// URLSession: on Linux `timeoutIntervalForRequest` is only an idle timeout
/// truncated to whole seconds and `timeoutIntervalForResource` is not enforced,
/// so a gateway that trickles bytes would otherwise hold a job indefinitely.
/// `timeout` counts the process's running time (`RunningTimeSleep`): time the
/// process spent stopped does not make a request that is being answered time out.
///
/// Nothing here logs: callers write one line per exchange from `Reply.logFields`,
/// which name the endpoint's host only — its path and query may carry keys.
final class JSONPostClient: Sendable {
    let endpoint: URL
    let timeout: Duration
    private let bearerToken: String?
    private let session: URLSession

    /// Longest gateway text kept in a rejection reason or error.
    static let maxReasonLength = 500

    init(endpoint: URL, timeout: Duration, bearerToken: String?) {
        self.endpoint = endpoint
        self.timeout = timeout
        self.bearerToken = bearerToken
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Self.backstopSeconds(timeout)
        configuration.timeoutIntervalForResource = Self.backstopSeconds(timeout)
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// What a retry can achieve with this answer.
    enum Verdict: Sendable {
        /// 2xx, with the response body.
        case accepted(Data)
        /// Refused for good: "HTTP <status>: <gateway's reason>".
        case rejected(reason: String)
        /// Worth retrying: 5xx, 408, 429, other statuses, timeout, connection failure.
        case transient(TransientDeliveryError)
    }

    /// One exchange's result.
    struct Reply: Sendable {
        var verdict: Verdict
        /// The endpoint's host, the HTTP status when there was an answer, and the
        /// time taken: the transport's part of the caller's log line.
        var logFields: [(String, String)]
    }

    /// POSTs `payload` as JSON (sorted keys) and sorts the answer. Throws only
    /// `CancellationError`, when the calling task was cancelled; every other
    /// failure is a `.transient` verdict.
    func post(_ payload: some Encodable, idempotencyKey: String) async throws -> Reply {
        let started = ContinuousClock.now
        var status: Int?
        let verdict: Verdict
        do {
            let (data, response) = try await exchange(makeRequest(payload, idempotencyKey: idempotencyKey))
            status = response.statusCode
            verdict = Self.verdict(status: response.statusCode, body: data)
        } catch let failure as TransientDeliveryError {
            verdict = .transient(failure)
        }
        var fields = [("endpoint_host", endpoint.host ?? "?")]
        if let status { fields.append(("status", String(status))) }
        let elapsed = (ContinuousClock.now - started) / .milliseconds(1)
        fields.append(("elapsed_ms", String(Int(elapsed.rounded()))))
        return Reply(verdict: verdict, logFields: fields)
    }

    private static func verdict(status: Int, body: Data) -> Verdict {
        switch status {
        case 200...299:
            .accepted(body)
        case 400...499 where status != 408 && status != 429:
            .rejected(reason: "HTTP \(status): \(reason(in: body, status: status))")
        default:
            .transient(TransientDeliveryError("HTTP \(status): \(reason(in: body, status: status))"))
        }
    }

    // MARK: - Request

    private func makeRequest(
        _ payload: some Encodable, idempotencyKey: String
    ) throws(TransientDeliveryError) -> URLRequest {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var request = URLRequest(url: endpoint, cachePolicy: .reloadIgnoringLocalCacheData)
        request.timeoutInterval = Self.backstopSeconds(timeout)
        request.httpMethod = "POST"
        do {
            request.httpBody = try encoder.encode(payload)
        } catch {
            // Cannot happen for strings and integers; reported rather than trapped.
            throw TransientDeliveryError("cannot encode request: \(error)")
        }
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue(idempotencyKey, forHTTPHeaderField: "Idempotency-Key")
        if let bearerToken {
            request.setValue("Bearer \(bearerToken)", forHTTPHeaderField: "Authorization")
        }
        return request
    }

    // MARK: - Exchange

    /// Runs one request to completion, the deadline or the caller's cancellation,
    /// whichever comes first. Throws `TransientDeliveryError` for every transport
    /// failure and `CancellationError` when the calling task was cancelled.
    private func exchange(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        let pending = PendingExchange()
        let timer = Task { [timeout] in
            do { try await RunningTimeSleep.sleep(for: timeout) } catch { return }
            pending.finish(.timedOut)
        }
        defer { timer.cancel() }
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard pending.install(continuation) else { return }
                let task = session.dataTask(with: request) { data, response, error in
                    if let error {
                        pending.finish(.failed(error))
                    } else if let response = response as? HTTPURLResponse {
                        pending.finish(.answered(data ?? Data(), response))
                    } else {
                        pending.finish(.failed(URLError(.badServerResponse)))
                    }
                }
                if pending.attach(task) { task.resume() }
            }
        } onCancel: {
            pending.finish(.cancelled)
        }
        switch outcome {
        case .answered(let data, let response):
            return (data, response)
        case .timedOut:
            throw TransientDeliveryError("timed out after \(timeout)")
        case .cancelled:
            throw CancellationError()
        case .failed(let error):
            throw Self.transportFailure(error, timeout: timeout)
        }
    }

    private static func transportFailure(_ error: any Error, timeout: Duration) -> TransientDeliveryError {
        guard let urlError = error as? URLError else {
            return TransientDeliveryError("request failed: \(PhoneMask.maskAll(in: String(describing: error)))")
        }
        if urlError.code == .timedOut {
            return TransientDeliveryError("timed out after \(timeout)")
        }
        // On Linux the top-level text is often missing; the underlying error has curl's.
        let nsError = urlError as NSError
        let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError
        let text =
            nsError.userInfo[NSLocalizedDescriptionKey] as? String
            ?? underlying?.userInfo[NSLocalizedDescriptionKey] as? String
            ?? "URL error \(urlError.code.rawValue)"
        return TransientDeliveryError("connection failed (\(urlError.code.rawValue)): \(PhoneMask.maskAll(in: text))")
    }

    // MARK: - Response

    private static func jsonObject(_ data: Data) -> [String: Any]? {
        guard !data.isEmpty else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// The first of `keys` that a JSON object reply holds as a non-empty string or
    /// an integer, as a string: the gateway's id for what it accepted.
    static func identifier(in data: Data, keys: [String]) -> String? {
        guard let object = jsonObject(data) else { return nil }
        for key in keys {
            if let text = object[key] as? String, !text.isEmpty { return text }
            if let number = object[key] as? Int64 { return String(number) }
        }
        return nil
    }

    /// The gateway's explanation: a JSON `error` or `message` field (also
    /// `{"error": {"message": …}}`), else the body text, else the status phrase —
    /// with phone numbers masked, at most `maxReasonLength` characters.
    static func reason(in data: Data, status: Int) -> String {
        var text: String?
        if let object = jsonObject(data) {
            for key in ["error", "message"] {
                if let value = object[key] as? String, !value.isEmpty {
                    text = value
                } else if let nested = object[key] as? [String: Any], let value = nested["message"] as? String,
                    !value.isEmpty
                {
                    text = value
                }
                if text != nil { break }
            }
        }
        if text == nil {
            let body = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            text = body.isEmpty ? HTTPURLResponse.localizedString(forStatusCode: status) : body
        }
        // Masked before truncating, so a cut cannot leave a partial number unmasked.
        let masked = PhoneMask.maskAll(in: text ?? "")
        return masked.count > maxReasonLength ? String(masked.prefix(maxReasonLength)) + "…" : masked
    }

    /// URLSession's own timeouts, set a whole second past ours so the precise
    /// deadline in `exchange` decides. They cannot be the deadline: Linux's
    /// URLSession truncates them to whole seconds (0.7 s times out at once, 1.5 s
    /// after 1 s), treats the request timeout as an idle timeout and does not
    /// enforce the resource timeout. They stay as a backstop.
    private static func backstopSeconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds + (attoseconds > 0 ? 1 : 0) + 1)
    }
}

// MARK: - One exchange's state

extension JSONPostClient {
    /// How one exchange ended; the first of completion, deadline and cancellation wins.
    private enum Outcome: Sendable {
        case answered(Data, HTTPURLResponse)
        case failed(any Error)
        case timedOut
        case cancelled
    }

    /// Joins the three ways an exchange can end so the caller is resumed exactly
    /// once and at once — without relying on URLSession to report a cancelled task
    /// promptly — and the data task is cancelled when it lost the race.
    private final class PendingExchange: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Outcome, Never>?
            var task: URLSessionDataTask?
            var outcome: Outcome?
        }

        private let state = Mutex(State())

        /// Stores the continuation; returns false (after resuming it) when the
        /// exchange already ended, e.g. the caller was cancelled before it started.
        func install(_ continuation: CheckedContinuation<Outcome, Never>) -> Bool {
            let ended = state.withLock { state -> Outcome? in
                if let outcome = state.outcome { return outcome }
                state.continuation = continuation
                return nil
            }
            guard let ended else { return true }
            continuation.resume(returning: ended)
            return false
        }

        /// Remembers the task so a deadline or cancellation can stop it; false when
        /// the exchange already ended and the task should not be started.
        func attach(_ task: URLSessionDataTask) -> Bool {
            state.withLock { state -> Bool in
                guard state.outcome == nil else { return false }
                state.task = task
                return true
            }
        }

        func finish(_ outcome: Outcome) {
            let (continuation, task) = state.withLock {
                state -> (CheckedContinuation<Outcome, Never>?, URLSessionDataTask?) in
                guard state.outcome == nil else { return (nil, nil) }
                state.outcome = outcome
                defer {
                    state.continuation = nil
                    state.task = nil
                }
                return (state.continuation, state.task)
            }
            continuation?.resume(returning: outcome)
            if case .answered = outcome { return }
            if case .failed = outcome { return }
            task?.cancel()
        }
    }
}
