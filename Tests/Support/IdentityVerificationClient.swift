import Contract
import Foundation
import Messaging

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

    /// Creates an operator and returns its id and the token printed once.
    public static func addOperator(name: String, databaseURL: String) throws -> (id: String, token: String) {
        let output = try run(["operator", "add", "--name", name], databaseURL: databaseURL)
        let lines = output.split(separator: "\n")
        guard let token = lines.first(where: { $0.hasPrefix("token: ") })?.dropFirst("token: ".count),
            let id = lines.first(where: { $0.hasPrefix("operator: ") })?.split(separator: " ").dropFirst().first
        else { throw IdentityClient.Failure("no token in: \(output)") }
        return (String(id), String(token))
    }
}
