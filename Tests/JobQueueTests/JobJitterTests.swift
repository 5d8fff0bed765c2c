import Foundation
import JobQueue
import XCTest

/// The engine's one source of spread: the same event always draws the same share,
/// different events (jobs, attempts, moments) draw different ones, and the shares
/// of many jobs cover their range rather than bunching.
final class JobJitterTests: XCTestCase {
    func testASharePerEventRepeatableAndSpreadOverItsRange() {
        let moment = Date(timeIntervalSince1970: 1_795_000_000.123)
        XCTAssertEqual(JobJitter(jobID: 42, attempt: 3), JobJitter(jobID: 42, attempt: 3), "the same retry, the same share")
        XCTAssertEqual(JobJitter(jobID: 42, moment: moment), JobJitter(jobID: 42, moment: moment), "the same snooze")
        // Neighbouring ids and attempts are different events.
        XCTAssertNotEqual(JobJitter(jobID: 1, attempt: 2).share, JobJitter(jobID: 2, attempt: 1).share)
        XCTAssertNotEqual(JobJitter(jobID: 42, attempt: 1).share, JobJitter(jobID: 42, attempt: 2).share)
        XCTAssertNotEqual(
            JobJitter(jobID: 42, moment: moment).share, JobJitter(jobID: 42, moment: moment.addingTimeInterval(0.001)).share)

        let retries = (Int64(1)...1000).map { JobJitter(jobID: $0, attempt: 1) }
        let snoozes = (Int64(1)...1000).map { JobJitter(jobID: $0, moment: moment) }
        for (name, jitters) in [("retries", retries), ("snoozes", snoozes)] {
            let shares = jitters.map(\.share)
            XCTAssertTrue(shares.allSatisfy { $0 >= 0 && $0 < 1 }, "\(name): shares in [0, 1)")
            XCTAssertTrue(jitters.allSatisfy { $0.signedShare >= -1 && $0.signedShare < 1 }, "\(name): signed in [-1, 1)")
            XCTAssertEqual(Set(shares).count, shares.count, "\(name): each job its own share")
            // Every tenth of the range holds some of the thousand jobs (60–140 of 100 expected).
            let tenths = Dictionary(grouping: shares) { Int($0 * 10) }.mapValues(\.count)
            XCTAssertTrue((0..<10).allSatisfy { (60...140).contains(tenths[$0] ?? 0) }, "\(name): tenths \(tenths)")
        }
    }
}
