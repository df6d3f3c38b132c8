import Foundation
import Testing

@testable import Postgres

@Suite struct PostgresQueryTests {
    @Test func interpolatedValuesBecomeParameters() {
        let name = "'); DROP TABLE x; --"
        let limit = 5
        let query: PostgresQuery =
            "SELECT * FROM t WHERE name = \(name) AND n < \(limit) AND m IS \(Optional<String>.none)"
        #expect(query.sql == "SELECT * FROM t WHERE name = $1 AND n < $2 AND m IS $3")
        #expect(query.binds == [name, "5", nil])
        #expect(!query.description.contains("DROP"))
    }

    @Test func arraysAndBytesUseTextForms() {
        #expect([Int64(1), 2, 3].postgresText == "{1,2,3}")
        #expect(["a\"b", "c\\d"].postgresText == #"{"a\"b","c\\d"}"#)
        #expect(["", "NULL", "{x,y}", "é 中"].postgresText == #"{"","NULL","{x,y}","é 中"}"#)
        #expect([Optional("a"), nil].postgresText == #"{"a",NULL}"#)
        #expect([true, false].postgresText == "{t,f}")
        #expect(PostgresBytes([0x00, 0xab, 0xff]).postgresText == "\\x00abff")
        #expect(PostgresBytes(postgresText: "\\x00abff") == PostgresBytes([0x00, 0xab, 0xff]))
        #expect(PostgresBytes(postgresText: "\\x0") == nil)
    }

    @Test(arguments: [
        ("2026-11-26 08:00:00+00", 1_795_680_000.0),
        ("2026-11-26 08:00:00.5+00", 1_795_680_000.5),
        ("2026-11-26 16:00:00.123456+08", 1_795_680_000.123456),
        ("1969-12-31 23:59:59+00", -1.0),
        ("2024-02-29 12:30:00-05:30", 1_709_229_600.0),
    ])
    func timestampsParse(text: String, epoch: Double) throws {
        let date = try #require(Date(postgresText: text))
        #expect(abs(date.timeIntervalSince1970 - epoch) < 0.000_001)
    }

    @Test func timestampsRoundTrip() throws {
        for epoch in [0.0, 1_795_680_000.25, -86_400.5, 4_102_444_800.000_001] {
            let date = Date(timeIntervalSince1970: epoch)
            let parsed = try #require(Date(postgresText: date.postgresText))
            #expect(abs(parsed.timeIntervalSince1970 - epoch) < 0.000_001)
        }
    }

    @Test func errorsKnowWhatIsRetriable() {
        #expect(PostgresError(.server, sqlState: "40001", reason: "x").isRetriable)
        #expect(PostgresError(.server, sqlState: "40P01", reason: "x").isSerializationFailure)
        #expect(PostgresError(.connection, reason: "refused").isRetriable)
        #expect(PostgresError(.server, sqlState: "57P01", reason: "shutdown").isRetriable)
        #expect(!PostgresError(.server, sqlState: "23505", reason: "dup").isRetriable)
        #expect(PostgresError(.server, sqlState: "23505", reason: "dup").isUniqueViolation)
    }
}

@Suite struct PostgresArrayTests {
    @Test func textArraysDecode() {
        #expect([String](postgresText: "{}") == [])
        #expect([String](postgresText: "{payment}") == ["payment"])
        #expect([String](postgresText: #"{a,"b c","d\"e","",f}"#) == ["a", "b c", "d\"e", "", "f"])
        #expect([String](postgresText: "{a,NULL}") == nil)
        #expect([String](postgresText: "a,b") == nil)
    }
}
