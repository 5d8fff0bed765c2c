import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One timed `GET` against the console on loopback, over a plain socket (the
/// console closes every connection): the time from connect to the last byte.
struct PageProbe {
    let port: Int
    let cookie: String

    struct Answer {
        var status: Int
        var bytes: Int
        /// Job links in the page (rows of the jobs table).
        var jobRows: Int
        var elapsed: Duration
    }

    func get(_ path: String) throws -> Answer {
        let clock = ContinuousClock()
        let start = clock.now
        #if canImport(Glibc)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw ConsoleBenchFailure("socket: \(String(cString: strerror(errno)))") }
        defer { _ = close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ConsoleBenchFailure("connect to port \(port): \(String(cString: strerror(errno)))") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: console_session=\(cookie)\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 { received += buffer[0..<count] } else if count < 0 && errno == EINTR { continue } else { break }
        }
        let elapsed = clock.now - start
        let statusLine = String(decoding: received.prefix(32), as: UTF8.self)
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        let jobRows = String(decoding: received, as: UTF8.self).components(separatedBy: "<td data-label=\"Job\">").count - 1
        return Answer(status: status, bytes: received.count, jobRows: jobRows, elapsed: elapsed)
    }
}

struct ConsoleBenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
