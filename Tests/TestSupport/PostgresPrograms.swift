import Foundation
import PostgresClient

/// The PostgreSQL client programs of the installation `scripts/devdb.sh` uses
/// (the newest /usr/lib/postgresql/N/bin), for tests that drive the database as
/// a front end in another language would: with `psql`.
public enum PostgresPrograms {
    public static func path(_ program: String) throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions {
            let candidate = "\(root)/\(version)/bin/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw PostgresError(kind: .client, message: "\(program) not found under \(root)/*/bin; install postgresql")
    }

    /// The test database's URL for another login role.
    public static func url(as role: String) throws -> String {
        let url = try TestDatabase.url
        guard let components = URLComponents(string: url), let user = components.user else {
            throw PostgresError(kind: .client, message: "TEST_DATABASE_URL has no user name: \(url)")
        }
        return url.replacingOccurrences(of: "//\(user)@", with: "//\(role)@")
    }
}
