import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// On a Citus cluster, dependencies and batches are refused (their jobs would be joined
/// across shards): the Swift client with `JobQueueError.workflowsNeedOneServer`, which
/// says what to do, the SQL API and plain SQL with the distributed install's check
/// constraint. Nothing is inserted; jobs without a workflow enqueue as before. On a
/// single server workflows run (OperationsTests) and these tests skip.
final class CitusWorkflowRefusalTests: XCTestCase {
    func testTheClientRefusesDependenciesAndBatchesWithAnErrorSayingWhatToDo() async throws {
        let fixture = try await QueueFixture.onCitus()
        let first = try await fixture.client.enqueue(fixture.request("test.step"))
        XCTAssertTrue(first.inserted)

        var dependent = fixture.request("test.step")
        dependent.dependsOn = [first.id]
        var member = fixture.request("test.step")
        member.batchID = "batch-\(fixture.queue)"
        var callback = fixture.request("test.step")
        callback.callbackForBatch = "batch-\(fixture.queue)"
        // A workflow across queues (so across shards), the case no resolver could join.
        var dependentElsewhere = fixture.request("test.step")
        dependentElsewhere.queue = "\(fixture.queue)-elsewhere"
        dependentElsewhere.dependsOn = [first.id]
        for request in [dependent, member, callback, dependentElsewhere] {
            do {
                _ = try await fixture.client.enqueue(request)
                XCTFail("a workflow job was enqueued on Citus")
            } catch let error as JobQueueError {
                XCTAssertEqual(error, .workflowsNeedOneServer)
                XCTAssertTrue(error.description.contains("completeInTransaction"), error.description)
            }
            do {
                _ = try await fixture.client.enqueue([fixture.request("test.step"), request])
                XCTFail("a bulk enqueue with a workflow job went through on Citus")
            } catch let error as JobQueueError {
                XCTAssertEqual(error, .workflowsNeedOneServer)
            }
        }
        let counts = try await fixture.counts()
        XCTAssertEqual(counts, ["available": 1], "only the first job exists")
    }

    func testTheSQLAPIRefusesDependenciesByTheDistributedInstallsConstraint() async throws {
        let fixture = try await QueueFixture.onCitus()
        do {
            _ = try await fixture.pool.query(
                "SELECT * FROM queue.enqueue_job(kind => 'test.step', queue => $1, depends_on => '{1}')", [fixture.queue])
            XCTFail("the SQL API enqueued a job with dependencies on Citus")
        } catch let error as PostgresError {
            XCTAssertTrue(error.isCheckViolation, "\(error)")
            XCTAssertTrue(error.message.contains(JobWorkflows.refusingConstraint), error.message)
        }
        let counts = try await fixture.counts()
        XCTAssertEqual(counts, [:])
    }
}
