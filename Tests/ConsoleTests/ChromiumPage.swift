import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Headless Debian `chromium`, driven over the DevTools protocol on a pipe
/// (`--remote-debugging-pipe`: commands on fd 3, answers on fd 4, each message one
/// JSON text ended by a NUL byte) — no WebSocket, no package. One tab.
final class ChromiumPage {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let executable = "/usr/bin/chromium"

    private let pid: pid_t
    private let commands: Int32
    private let answers: Int32
    private let profile: String
    private var nextID = 0
    private var pending: [UInt8] = []
    private var sessionID = ""

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw Failure(description: "\(Self.executable) is missing: install Debian's chromium (apt-get install chromium), as .ci/run does")
        }
        profile = NSTemporaryDirectory() + "console-chromium-\(UInt32.random(in: 0...UInt32.max))"
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw Failure(description: "pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments = [
            Self.executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--disable-dev-shm-usage", "--remote-debugging-pipe", "--user-data-dir=\(profile)", "--window-size=1280,900",
            "about:blank",
        ]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, Self.executable, &actions, nil, argv, environ)
        _ = close(toBrowser[0])
        _ = close(fromBrowser[1])
        guard status == 0 else { throw Failure(description: "cannot start chromium: \(String(cString: strerror(status)))") }
        pid = child
        commands = toBrowser[1]
        answers = fromBrowser[0]
        let target = try call("Target.createTarget", ["url": "about:blank"])
        guard let targetID = target["targetId"] as? String else { throw Failure(description: "no target: \(target)") }
        let attached = try call("Target.attachToTarget", ["targetId": targetID, "flatten": true])
        sessionID = attached["sessionId"] as? String ?? ""
        _ = try call("Page.enable", [:], inPage: true)
    }

    deinit {
        _ = close(commands)
        _ = close(answers)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(atPath: profile)
    }

    /// Sends one command and waits for its answer (events in between are dropped).
    @discardableResult
    func call(_ method: String, _ parameters: [String: Any], inPage: Bool = false, timeout: TimeInterval = 30) throws
        -> [String: Any]
    {
        nextID += 1
        var message: [String: Any] = ["id": nextID, "method": method, "params": parameters]
        if inPage { message["sessionId"] = sessionID }
        var bytes = Array(try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(commands, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw Failure(description: "chromium closed its pipe") }
            offset += written
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let answer = try readMessage(until: deadline)
            guard answer["id"] as? Int == nextID else { continue }
            if let error = answer["error"] { throw Failure(description: "\(method): \(error)") }
            return answer["result"] as? [String: Any] ?? [:]
        }
    }

    private func readMessage(until deadline: Date) throws -> [String: Any] {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let end = pending.firstIndex(of: 0) {
                let message = Array(pending[..<end])
                pending.removeFirst(end + 1)
                return try JSONSerialization.jsonObject(with: Data(message)) as? [String: Any] ?? [:]
            }
            var descriptor = pollfd(fd: answers, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            guard remaining > 0, poll(&descriptor, 1, remaining) > 0 else { throw Failure(description: "chromium did not answer in time") }
            let count = buffer.withUnsafeMutableBytes { read(answers, $0.baseAddress, $0.count) }
            guard count > 0 else { throw Failure(description: "chromium exited") }
            pending += buffer[0..<count]
        }
    }

    /// Loads `url` and waits for the new document: the old one is marked first, since
    /// it too is "complete" until the new one replaces it.
    func navigate(_ url: String) throws {
        _ = try evaluate("window.leftByNavigation = true")
        try call("Page.navigate", ["url": url], inPage: true)
        try waitUntil("window.leftByNavigation === undefined && location.href !== 'about:blank'")
    }

    /// The value of a JavaScript expression in the page.
    func evaluate(_ expression: String) throws -> Any? {
        let result = try call(
            "Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true], inPage: true)
        if let exception = result["exceptionDetails"] { throw Failure(description: "\(expression): \(exception)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Waits until `condition` (JavaScript) is true in a fully loaded page.
    func waitUntil(_ condition: String, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? evaluate("document.readyState === 'complete' && (\(condition))")) as? Bool == true { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw Failure(description: "timed out waiting for \(condition) on \((try? evaluate("location.href")) as? String ?? "?")")
    }

    /// Presses Tab, Enter and the like as the keyboard would.
    func press(_ key: String, code: String, keyCode: Int) throws {
        for type in ["keyDown", "keyUp"] {
            var parameters: [String: Any] = ["type": type, "key": key, "code": code, "windowsVirtualKeyCode": keyCode]
            if key == "Enter" && type == "keyDown" { parameters["text"] = "\r" }
            try call("Input.dispatchKeyEvent", parameters, inPage: true)
        }
    }

    func setViewport(width: Int, height: Int, mobile: Bool) throws {
        try call(
            "Emulation.setDeviceMetricsOverride",
            ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile], inPage: true)
    }

    /// Saves a PNG of the page as it is shown.
    func screenshot(to path: String) throws {
        let result = try call("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": false], inPage: true)
        guard let text = result["data"] as? String, let data = Data(base64Encoded: text) else {
            throw Failure(description: "no screenshot data")
        }
        try data.write(to: URL(fileURLWithPath: path))
    }
}
