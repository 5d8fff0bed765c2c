import CLibPQ
import Foundation

/// A NOTIFY received on a connection that LISTENs.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// The notifying server process.
    public var senderPID: Int32
}

/// A pipe that interrupts `waitForNotifications` from another thread or task
/// (shutdown, "new work enqueued locally"). A wake before the wait starts is not
/// lost: the byte stays in the pipe until the wait sees it.
///
/// `Sendable`: it holds only immutable file descriptors; `write(2)` on a pipe is
/// safe from any thread.
public final class PostgresWakeup: Sendable {
    let readDescriptor: Int32
    let writeDescriptor: Int32

    public init() throws {
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else {
            throw PostgresError.client("cannot create a wake-up pipe: errno \(errno)")
        }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    public func wake() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)  // a full pipe already means "wake"
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
    }
}

extension PostgresConnection {
    /// Refused on a transaction-pooled connection: the pooler would hand the
    /// listening server connection to other clients and the notifications to nobody.
    public func listen(_ channel: String) throws {
        guard configuration.pooling.allowsListen else {
            throw PostgresError(
                kind: .client, message: "LISTEN needs a session; this connection goes through a transaction-pooling PgBouncer",
                hint: "listen on a direct connection to the server (queue-worker --listen-url)")
        }
        try executeScript("LISTEN \(try quoteIdentifier(channel))")
    }

    public func unlisten(_ channel: String) throws {
        try executeScript("UNLISTEN \(try quoteIdentifier(channel))")
    }

    /// Sends a notification; inside a transaction it is delivered at COMMIT.
    public func notify(_ channel: String, payload: String = "") throws {
        try query("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// Blocks in `poll(2)` on the connection's socket (and the wake-up pipe) until a
    /// notification arrives, `wakeup` fires, or `timeout` passes. Returns the
    /// notifications received (empty on timeout or wake-up). No busy loop.
    public func waitForNotifications(
        timeout: Duration, wakeup: PostgresWakeup? = nil
    ) throws -> [PostgresNotification] {
        var received = takeNotifications()
        if !received.isEmpty { return received }
        let deadline = ContinuousClock.now + timeout
        while true {
            let socket = PQsocket(handle)
            guard socket >= 0 else { throw connectionError() }
            var descriptors = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
            if let wakeup { descriptors.append(pollfd(fd: wakeup.readDescriptor, events: Int16(POLLIN), revents: 0)) }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return [] }
            let milliseconds = Int32(clamping: (remaining.components.seconds * 1000)
                + Int64(remaining.components.attoseconds / 1_000_000_000_000_000) + 1)
            let ready = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw PostgresError.client("poll failed: errno \(errno)")
            }
            if ready == 0 { continue }  // re-checks the deadline
            if descriptors.count > 1 && descriptors[1].revents != 0 {
                wakeup?.drain()
                return takeNotifications()
            }
            if descriptors[0].revents != 0 {
                if PQconsumeInput(handle) == 0 { throw connectionError() }
                received = takeNotifications()
                if !received.isEmpty { return received }
            }
        }
    }

    /// Notifications libpq has already read (after a query or `PQconsumeInput`).
    public func takeNotifications() -> [PostgresNotification] {
        var notifications: [PostgresNotification] = []
        while let pointer = PQnotifies(handle) {
            let notify = pointer.pointee
            notifications.append(
                PostgresNotification(
                    channel: String(cString: notify.relname), payload: String(cString: notify.extra),
                    senderPID: notify.be_pid))
            PQfreemem(pointer)
        }
        return notifications
    }
}
