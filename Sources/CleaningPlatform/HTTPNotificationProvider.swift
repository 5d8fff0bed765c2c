public import Foundation
public import JobQueue
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Sends messages to a gateway that takes one JSON POST per message — the shape
/// most SMS and push relays offer, and the one our own relay service speaks.
///
/// Request body: `{"body", "channel", "notification_id", "recipient", "template"}`;
/// headers `Content-Type: application/json`, `Idempotency-Key` (stable across
/// retries, so a gateway that already took the message does not send it twice)
/// and, when configured, `Authorization: Bearer …`.
///
/// Answers are sorted by what a retry can achieve: 2xx is delivered; 4xx is
/// rejected for good (the gateway's reason is kept), except 408 and 429, which
/// say "later"; 5xx, other statuses, timeouts and connection failures throw
/// `TransientDeliveryError` so the job is retried with backoff.
///
/// The whole exchange is bounded by `timeout`, enforced here rather than left to
/// URLSession: on Linux `timeoutIntervalForRequest` is only an idle timeout
/// truncated to whole seconds and `timeoutIntervalForResource` is not enforced,
/// so a gateway that trickles bytes would otherwise hold a job indefinitely.
///
/// Logs one line per message with the recipient masked; the bearer token, the
/// body and the endpoint's path and query are never logged.
public final class HTTPNotificationProvider: NotificationProvider {
    public let endpoint: URL
    public let timeout: Duration
    private let bearerToken: String?
    private let log: JobLog
    private let session: URLSession

    /// Longest gateway text kept in a rejection reason or error.
    static let maxReasonLength = 500

    public init(endpoint: URL, timeout: Duration = .seconds(5), bearerToken: String? = nil, log: JobLog) {
        self.endpoint = endpoint
        self.timeout = timeout
        self.bearerToken = bearerToken
        self.log = log
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

    public func send(_ message: OutgoingMessage) async throws -> DeliveryResult {
        let started = ContinuousClock.now
        var fields: [(String, String)] = [
            ("notification_id", String(message.notificationID)),
            ("channel", message.channel.rawValue),
            ("recipient", PhoneMask.mask(message.recipient)),
            ("template", message.templateCode),
            ("endpoint_host", endpoint.host ?? "?"),
        ]
        func elapsed() -> (String, String) {
            ("elapsed_ms", String(Int(((ContinuousClock.now - started) / .milliseconds(1)).rounded())))
        }

        let data: Data
        let response: HTTPURLResponse
        do {
            (data, response) = try await exchange(makeRequest(for: message))
        } catch let failure as TransientDeliveryError {
            log.warning("notification send failed (http)", fields + [("error", failure.reason), elapsed()])
            throw failure
        }

        let status = response.statusCode
        fields.append(("status", String(status)))
        switch status {
        case 200...299:
            let providerID = Self.providerMessageID(in: data)
            log.info(
                "notification sent (http)",
                fields + [("provider_message_id", providerID.map(PhoneMask.maskAll(in:)) ?? ""), elapsed()])
            return .delivered(providerMessageID: providerID)
        case 400...499 where status != 408 && status != 429:
            let reason = "HTTP \(status): \(Self.reason(in: data, status: status))"
            log.warning("notification rejected (http)", fields + [("reason", reason), elapsed()])
            return .rejected(reason: reason)
        default:
            let failure = TransientDeliveryError("HTTP \(status): \(Self.reason(in: data, status: status))")
            log.warning("notification send failed (http)", fields + [("error", failure.reason), elapsed()])
            throw failure
        }
    }

    // MARK: - Request

    /// The wire form: snake_case keys, independent of `OutgoingMessage`'s own
    /// Codable form so renaming a Swift property cannot change the protocol.
    private struct Payload: Encodable {
        var notificationID: Int64
        var channel: String
        var recipient: String
        var template: String
        var body: String

        enum CodingKeys: String, CodingKey {
            case notificationID = "notification_id"
            case channel, recipient, template, body
        }
    }

    private func makeRequest(for message: OutgoingMessage) throws(TransientDeliveryError) -> URLRequest {
        let payload = Payload(
            notificationID: message.notificationID, channel: message.channel.rawValue, recipient: message.recipient,
            template: message.templateCode, body: message.body)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var request = URLRequest(url: endpoint, cachePolicy: .reloadIgnoringLocalCacheData)
        request.timeoutInterval = Self.backstopSeconds(timeout)
        request.httpMethod = "POST"
        do {
            request.httpBody = try encoder.encode(payload)
        } catch {
            // Cannot happen for strings and integers; reported rather than trapped.
            throw TransientDeliveryError("cannot encode message: \(error)")
        }
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue(message.idempotencyKey, forHTTPHeaderField: "Idempotency-Key")
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
            do { try await Task.sleep(for: timeout) } catch { return }
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

    /// `id` or `message_id` of a JSON object reply, as a string or an integer.
    static func providerMessageID(in data: Data) -> String? {
        guard let object = jsonObject(data) else { return nil }
        for key in ["id", "message_id"] {
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

extension HTTPNotificationProvider {
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
