import Foundation
import Messaging

/// A real HTTP client for the tests: curl, run as a process (nothing of the gateway's Swift types).
struct Curl: Sendable {
    /// An answer.
    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: JSONValue
        var code: String? { body["code"]?.stringValue }
        func result(_ key: String) -> String? { body["result"]?[key]?.stringValue }
    }

    /// Failure to run curl or read its answer (a refused connection is status 0).
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let base: String

    /// The stack's gateway (`REGISTRAR_GATEWAY_URL`, written by scripts/stack).
    static var stack: Curl? {
        ProcessInfo.processInfo.environment["REGISTRAR_GATEWAY_URL"].map(Curl.init(base:))
    }

    /// Sends one request. `forwardedFor` simulates a client address through the test stack's
    /// trusted proxy (loopback).
    func request(
        _ method: String, _ path: String, json: JSONValue? = nil, rawBody: [UInt8]? = nil, token: String? = nil,
        idempotencyKey: String? = nil, forwardedFor: String? = nil, headers extra: [String] = [],
        timeoutSeconds: Int = 30
    ) async throws -> Response {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        let headerFile = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: headerFile) }
        var arguments = [
            "-sS", "-X", method, "--max-time", String(timeoutSeconds), "-D", headerFile.path, "-o", "-",
            "-w", "\n%{http_code}", "-H", "Expect:",
        ]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let idempotencyKey { arguments += ["-H", "Idempotency-Key: \(idempotencyKey)"] }
        if let forwardedFor { arguments += ["-H", "X-Forwarded-For: \(forwardedFor)"] }
        for header in extra { arguments += ["-H", header] }
        var body: Data?
        if let json {
            body = try JSONEncoder().encode(json)
        } else if let rawBody {
            body = Data(rawBody)
        }
        if body != nil { arguments += ["-H", "Content-Type: application/json", "--data-binary", "@-"] }
        process.arguments = arguments + [base + path]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        if let body { try input.fileHandleForWriting.write(contentsOf: body) }
        try input.fileHandleForWriting.close()
        let data = try await Task.readToEnd(output)
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            throw Failure(description: "curl printed no status: \(text.prefix(200))")
        }
        let bodyText = String(text[..<newline])
        var headers: [String: String] = [:]
        for line in (try? String(contentsOf: headerFile, encoding: .utf8))?.split(separator: "\r\n") ?? [] {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 {
                headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(bodyText.utf8))) ?? .null
        return Response(status: status, headers: headers, body: json)
    }
}

extension Task where Success == Data, Failure == Never {
    /// Reads a pipe to its end off the cooperative pool.
    static func readToEnd(_ pipe: Pipe) async throws -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile())
            }
        }
    }
}
