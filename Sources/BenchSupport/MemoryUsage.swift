import Foundation

/// This process's resident memory from `/proc/self/status`: the peak (VmHWM) and the
/// current resident set (VmRSS), in KiB. Linux only; nil elsewhere.
public struct MemoryUsage: Sendable {
    public var peakKiB: Int
    public var residentKiB: Int

    public static func current() -> MemoryUsage? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        var peak: Int?
        var resident: Int?
        for line in status.split(separator: "\n") {
            if line.hasPrefix("VmHWM:") { peak = kibibytes(line) }
            if line.hasPrefix("VmRSS:") { resident = kibibytes(line) }
        }
        guard let peak, let resident else { return nil }
        return MemoryUsage(peakKiB: peak, residentKiB: resident)
    }

    /// "VmRSS:\t   12345 kB" → 12345
    private static func kibibytes(_ line: Substring) -> Int? {
        line.split(separator: " ", omittingEmptySubsequences: true).lazy
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.first
    }
}
