import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// Verification and review commands, with fixtures for valid and invalid numbers.
extension IdentityClient {
    /// `verification.submit` with `session`.
    public func verify(_ data: [String: JSONValue], session: String?) async throws -> Answer {
        try await send("verification.submit", data, session: session)
    }

    /// A bank-card submission.
    public func verifyCard(_ number: String, session: String?) async throws -> Answer {
        try await verify(
            ["method": .string("bank_card"), "cardNumber": .string(number), "holderName": .string("Li Mei")],
            session: session)
    }

    /// An ID-card submission, with evidence for a conflict review when given.
    public func verifyID(
        _ number: String, session: String?, livenessPassed: Bool = true, photo: String? = nil,
        statement: String? = nil
    ) async throws -> Answer {
        var data: [String: JSONValue] = [
            "method": .string("id_card"), "idNumber": .string(number), "name": .string("Li Mei"),
            "liveness": .object(["passed": .bool(livenessPassed), "score": .double(livenessPassed ? 0.93 : 0.31)]),
        ]
        if let photo { data["handheldPhotoRef"] = .string(photo) }
        if let statement { data["statement"] = .string(statement) }
        return try await verify(data, session: session)
    }

    /// `review.decide` with whatever tokens are given.
    public func decide(
        _ taskId: String, _ decision: String, note: String = "checked the documents", operatorToken: String?,
        sessionToken: String? = nil
    ) async throws -> Answer {
        let envelope = RegistrarClient.command(
            type: "review.decide",
            data: .object(["taskId": .string(taskId), "decision": .string(decision), "note": .string(note)]),
            sessionToken: sessionToken, operatorToken: operatorToken)
        return Answer(event: try await client.request(envelope, topic: "identity.commands"))
    }

    /// An operator of `role` (support, reviewer, admin), added through `operator.add` by a fixture
    /// admin written straight into the database (the tests' stand-in for the one-time bootstrap,
    /// which the shared test database has done long before).
    public func addOperator(name: String, role: String = "reviewer", databaseURL: String) async throws
        -> (id: String, token: String)
    {
        let admin = try await Self.fixtureAdmin(databaseURL: databaseURL)
        if role == "admin" { return admin }
        let added = try await operatorCommand(
            "operator.add", ["name": .string(name), "role": .string(role)], operatorToken: admin.token)
        guard added.code == "OK", let id = added.string("operatorId"), let token = added.string("token") else {
            throw Failure("operator.add: \(added.event.data)")
        }
        return (id, token)
    }

    /// A command with an operator token, on `topic`.
    public func operatorCommand(
        _ type: String, _ data: [String: JSONValue], operatorToken: String?, topic: String = "identity.commands"
    ) async throws -> Answer {
        let envelope = RegistrarClient.command(type: type, data: .object(data), operatorToken: operatorToken)
        return Answer(event: try await client.request(envelope, topic: topic))
    }

    /// An enabled admin written into identity's table (announced by identity's operator announcer).
    public static func fixtureAdmin(databaseURL: String) async throws -> (id: String, token: String) {
        let id = UUID().uuidString.lowercased()
        let token = Sodium.randomBytes(32).hexString
        let hash = PostgresBytes(Sodium.sha256(Array(token.utf8)))
        try await PostgresConnection(configuration: PostgresConfiguration(url: databaseURL, searchPath: ["identity"]))
            .run { session in
                try session.query(
                    """
                    INSERT INTO operators (id, name, role, token_hash, created_at)
                    VALUES (\(id)::uuid, 'Test Admin', 'admin', \(hash), now())
                    """)
            }
        return (id, token)
    }

    // MARK: numbers

    /// A fresh valid resident ID number (Beijing, born 1960–1999, GB 11643 check character).
    public static func residentID() -> String {
        let body =
            "110101\(Int.random(in: 1960...1999))\(String(format: "%02d", Int.random(in: 1...12)))"
            + "\(String(format: "%02d", Int.random(in: 1...28)))\(String(format: "%03d", Int.random(in: 0...999)))"
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let sum = zip(body.compactMap(\.wholeNumberValue), weights).reduce(0) { $0 + $1.0 * $1.1 }
        return body + String(Array("10X98765432")[sum % 11])
    }

    /// A fresh Luhn-valid 16-digit card number (UnionPay prefix 62).
    public static func cardNumber() -> String {
        let body = "62" + (0..<13).map { _ in String(Int.random(in: 0...9)) }.joined()
        for check in 0...9 where luhn(body + String(check)) { return body + String(check) }
        return body + "0"
    }

    public static func luhn(_ digits: String) -> Bool {
        let sum = digits.reversed().enumerated().reduce(0) { sum, item in
            let digit = item.element.wholeNumberValue ?? 0
            let value = item.offset % 2 == 1 ? (digit * 2 > 9 ? digit * 2 - 9 : digit * 2) : digit
            return sum + value
        }
        return sum % 10 == 0
    }
}

/// `registrar operator add` and `registrar review list`, run as ops would.
public enum RegistrarCLI {
    /// Runs the `registrar` executable with `arguments` against `databaseURL`; returns its output.
    public static func run(_ arguments: [String], databaseURL: String) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        guard let bin = environment["REGISTRAR_BIN"] else { throw IdentityClient.Failure("REGISTRAR_BIN is not set") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin).appendingPathComponent("registrar")
        process.arguments = arguments
        var childEnvironment = environment
        childEnvironment["REGISTRAR_DATABASE_URL"] = databaseURL
        process.environment = childEnvironment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw IdentityClient.Failure(
                "registrar \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// `registrar operator bootstrap`: the first admin of an empty operators table; its id and the
    /// token printed once.
    public static func bootstrapAdmin(name: String, databaseURL: String) throws -> (id: String, token: String) {
        let output = try run(["operator", "bootstrap", "--name", name], databaseURL: databaseURL)
        let lines = output.split(separator: "\n")
        guard let token = lines.first(where: { $0.hasPrefix("token: ") })?.dropFirst("token: ".count),
            let id = lines.first(where: { $0.hasPrefix("operator: ") })?.split(separator: " ").dropFirst().first
        else { throw IdentityClient.Failure("no token in: \(output)") }
        return (String(id), String(token))
    }
}
