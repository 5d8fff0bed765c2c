@testable import BenchSupport
@testable import bench
import XCTest

/// The suite's enqueue-cost line reports medians over repetitions; the server's CPU
/// is missing from a measurement when the server is not local, and must then neither
/// count as zero nor hide the other figures.
final class EnqueueCostMedianTests: XCTestCase {
    private func cost(jobs: Int, wallMilliseconds: Int, serverSeconds: Double?, walBytes: Int64) -> EnqueueCost {
        EnqueueCost(
            jobs: jobs, elapsed: .milliseconds(wallMilliseconds), clientCPU: .milliseconds(wallMilliseconds / 2),
            spent: (CPUSpent(client: 0, server: serverSeconds, machineBusyFraction: nil), walBytes))
    }

    func testMediansArePerThousandJobsAndSkipMissingServerFigures() throws {
        let costs = [
            cost(jobs: 2000, wallMilliseconds: 400, serverSeconds: 0.3, walBytes: 2048 * 10),
            cost(jobs: 2000, wallMilliseconds: 100, serverSeconds: nil, walBytes: 2048 * 30),
            cost(jobs: 2000, wallMilliseconds: 200, serverSeconds: 0.1, walBytes: 2048 * 20),
        ]
        // Per 1 000 jobs: wall 200, 50, 100 ms; client CPU 100, 25, 50 ms; WAL 10, 30, 20 KiB.
        XCTAssertEqual(try XCTUnwrap(costs.median(\.wall)), 100, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(costs.median(\.clientCPU)), 50, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(costs.median(\.walKiB)), 20, accuracy: 1e-9)
        // Server CPU of the two measurements that have it: 150 and 50 ms, median 100.
        XCTAssertEqual(try XCTUnwrap(costs.median(\.serverCPU)), 100, accuracy: 1e-9)
    }

    func testNoServerFigureAnywhereHasNoMedian() throws {
        let costs = [cost(jobs: 1000, wallMilliseconds: 100, serverSeconds: nil, walBytes: 1024)]
        XCTAssertNil(costs.median(\.serverCPU))
        XCTAssertEqual(try XCTUnwrap(costs.median(\.wall)), 100, accuracy: 1e-9)
        XCTAssertNil([EnqueueCost]().median(\.wall))
    }
}
