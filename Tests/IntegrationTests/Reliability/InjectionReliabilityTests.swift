import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// SQL metacharacters, hostile Unicode and long strings in every string field of every command:
/// nothing breaks, the database is intact, stored values come back verbatim, and values the
/// contract refuses get their stable code (issue 8, security: injection; RELIABILITY-NOTES R22).
@Suite(.enabled(if: TestStack.enabled))
struct InjectionReliabilityTests {
    let identity = IdentityClient()

    /// The corpus: no NUL (the contract's JSON may not carry one into text columns), no leading or
    /// trailing blanks (names are trimmed by rule), one value of 4,000 characters.
    static let corpus: [String] = [
        "'; DROP TABLE x; --",
        "' OR '1'='1",
        "Robert'); DELETE FROM accounts; --",
        "$1 $$ $body$ ::text",
        #"back\slash \\ \' \" \x00"#,
        "100% _under_ %% \\% \\_",
        "quote \" ' ` ’ ″ ;",
        "\u{202E}evil\u{202C} مرحبا",
        "emoji 😀👩‍👩‍👧 漢字 Ω",
        // 4,000 characters that do not compress (as a real attacker's would not).
        String((0..<100).map { _ in UUID().uuidString + "'; --\\%_" }.joined().prefix(4000)),
    ]

    /// A value fit to be stored under a per-field length rule (names ≤ 64 characters).
    static func short(_ value: String) -> Bool { value.count <= 64 }

    // MARK: every string field of every command

    /// A command with string leaves; `paths` are where a hostile value goes, one at a time.
    struct Template {
        var topic: String
        var type: String
        var data: JSONValue
        var session: String?
    }

    /// The paths of every string leaf of `value` (array elements by index).
    static func stringPaths(_ value: JSONValue, _ prefix: [String] = []) -> [[String]] {
        switch value {
        case .string: return [prefix]
        case .object(let object): return object.keys.sorted().flatMap { stringPaths(object[$0]!, prefix + [$0]) }
        case .array(let array): return array.indices.flatMap { stringPaths(array[$0], prefix + ["\($0)"]) }
        default: return []
        }
    }

    /// `value` with the leaf at `path` replaced by `text`.
    static func replacing(_ value: JSONValue, at path: [String], with text: String) -> JSONValue {
        guard let head = path.first else { return .string(text) }
        switch value {
        case .object(var object):
            object[head] = replacing(object[head] ?? .null, at: Array(path.dropFirst()), with: text)
            return .object(object)
        case .array(var array):
            let index = Int(head)!
            array[index] = replacing(array[index], at: Array(path.dropFirst()), with: text)
            return .array(array)
        default: return value
        }
    }

    /// The fuzzed paths of a template: every string leaf, but of a fingerprint only two attributes
    /// (22 copies of a 4,000-character value would pass the 64 KiB message limit).
    static func fuzzedPaths(_ data: JSONValue) -> [[String]] {
        stringPaths(data).filter { path in
            !(path.contains("fingerprint") || path.contains("deviceFingerprint"))
                || ["kernel", "imeiHash"].contains(path.last ?? "")
        }
    }

    @Test func hostileStringsInEveryFieldBreakNothingAndStoredValuesRoundTrip() async throws {
        let pool = { (schema: String) in PostgresPool(configuration: TestStack.postgres(searchPath: [schema])) }
        let schemas = ["identity", "permissions", "binding", "deregistration"]
        let before = try await Self.tableCounts(pool("public"), schemas: schemas)
        let pgLog = ProcessInfo.processInfo.environment["REGISTRAR_STACK_DIR"].map { $0 + "/logs/postgres.log" }
        let logStart = pgLog.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int } ?? 0

        // Real state for the templates to point at.
        let owner = try await identity.register()
        let permissions = PermissionsClient(client: identity.client)
        try await permissions.known(owner.accountId)
        let registrationId = try #require(
            try await identity.start(phone: IdentityClient.phone()).string("registrationId"))
        let operatorToken = try await permissions.addOperator()
        let enterprise = "ent-\(UUID().uuidString.prefix(8))"
        try await TestStack.eventually("the template enterprise exists") {
            try await permissions.send(
                "enterprise.create",
                [
                    "enterpriseId": .string(enterprise), "name": .string("Template"),
                    "adminAccountId": .string(owner.accountId),
                ], operatorToken: operatorToken
            ).code == "OK"
        }
        let account: JSONValue = .string(owner.accountId)
        // Fresh phones, devices and IPs per command, so per-phone/device/IP limits do not hide deeper code.
        let templates = {
            Self.templates(
                account: account, registrationId: registrationId, enterprise: enterprise, session: owner.sessionToken)
        }
        let commandTypes = templates().count

        // Every (command, field, value), sent as one burst; each must be answered, never with a failure.
        var envelopes: [[String: JSONValue]] = []
        var labels: [String: String] = [:]
        var expectations: [String: String] = [:]
        for index in 0..<commandTypes {
            for path in Self.fuzzedPaths(templates()[index].data) {
                for value in Self.corpus {
                    let template = templates()[index]
                    var envelope = RegistrarClient.command(
                        type: template.type, data: Self.replacing(template.data, at: path, with: value),
                        sessionToken: template.session)
                    envelope["topic"] = .string(template.topic)
                    let id = envelope["id"]!.stringValue!
                    labels[id] = "\(template.type) data.\(path.joined(separator: "."))"
                    // The contract's stable codes for values it refuses.
                    switch (template.type, path) {
                    case ("registration.start", ["phone"]): expectations[id] = "INVALID_PHONE"
                    case ("login", ["phone"]), ("login", ["password"]): expectations[id] = "INVALID_CREDENTIALS"
                    case ("verification.submit", ["cardNumber"]): expectations[id] = "INVALID_CARD_NUMBER"
                    case ("deregistration.send_revoke_code", ["phone"]): expectations[id] = "MALFORMED"
                    default: break
                    }
                    envelopes.append(envelope)
                }
            }
        }
        // Envelope strings too: source, correlationid, tokens.
        for value in Self.corpus {
            for field in ["source", "correlationid", "sessiontoken", "operatortoken"] {
                var envelope = RegistrarClient.command(type: "system.ping", data: .emptyObject)
                envelope[field] = .string(value)
                envelope["topic"] = .string("identity.commands")
                labels[envelope["id"]!.stringValue!] = "system.ping \(field)"
                envelopes.append(envelope)
            }
        }
        var answers: [IdentityClient.Answer] = []
        for topic in Set(envelopes.map { $0["topic"]!.stringValue! }).sorted() {
            let batch = envelopes.filter { $0["topic"]?.stringValue == topic }.map {
                var envelope = $0
                envelope["topic"] = nil
                return envelope
            }
            answers += try await Security.burst(identity.client, batch, topic: topic)
        }
        var failures: [String] = []
        for answer in answers {
            let id = answer.event.inreplyto ?? ""
            let label = labels[id] ?? id
            if answer.code == "INTERNAL_ERROR" || !["ok", "rejected", "pending_review"].contains(answer.status ?? "") {
                failures.append("\(label): \(answer.code ?? "-")")
            }
            if let expected = expectations[id], answer.code != expected {
                failures.append("\(label): \(answer.code ?? "-") instead of \(expected)")
            }
        }

        // Stored values come back verbatim.
        let roundTrips = try await Self.roundTrips(identity, permissions, owner, operatorToken)
        failures += roundTrips.failures

        // The database is intact: every table still there, no table lost rows.
        let after = try await Self.tableCounts(pool("public"), schemas: schemas)
        let lostTables = Set(before.keys).subtracting(after.keys).sorted()
        let shrunk = before.filter { table, count in (after[table] ?? 0) < count && !Self.volatile.contains(table) }
        failures += lostTables.map { "table gone: \($0)" } + shrunk.map { "rows lost in \($0.key)" }
        for service in RegistrarService.allCases {
            let ping = try await identity.client.request(
                RegistrarClient.command(type: "system.ping", data: .emptyObject), topic: service.commandTopic)
            if ping.data["code"]?.stringValue != "OK" { failures.append("\(service) does not answer") }
        }
        // PostgreSQL never saw a statement it could not parse (42601) or a missing relation (42P01).
        var syntaxErrors = 0
        if let pgLog, let log = FileManager.default.contents(atPath: pgLog) {
            let appended = String(decoding: log.dropFirst(logStart), as: UTF8.self)
            syntaxErrors =
                appended.components(separatedBy: "\n").filter {
                    $0.contains("syntax error") || ($0.contains("relation") && $0.contains("does not exist"))
                }.count
        }
        if syntaxErrors > 0 { failures.append("\(syntaxErrors) syntax errors in the PostgreSQL log") }

        #expect(failures.isEmpty, "\(failures.prefix(20))")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "injection: hostile strings in every field",
                workload: "\(answers.count) commands (\(commandTypes) command types × every string field × "
                    + "\(Self.corpus.count) values, plus envelope fields), \(roundTrips.checked) stored values read back",
                notes: "SQL metacharacters, quotes, backslashes, %/_, $n, RTL override, emoji, 4,000 characters; "
                    + "0 INTERNAL_ERROR, refused values get INVALID_PHONE / INVALID_CREDENTIALS / INVALID_CARD_NUMBER / "
                    + "MALFORMED (indexed fields have length rules: fingerprint values, ip.address, externalAccountId); "
                    + "\(after.count) tables intact; \(syntaxErrors) syntax errors in the PostgreSQL log",
                passed: failures.isEmpty))
    }

    /// Tables whose rows are deleted by design while tests run (sliding windows, single-use tickets).
    static let volatile: Set<String> = [
        "identity.sms_sends", "deregistration.sms_sends", "deregistration.revoke_code_requests",
        "identity.scan_tickets", "identity.challenges", "identity.sessions", "permissions.sessions",
        "binding.sessions", "deregistration.sessions", "identity.devices", "identity.device_prints",
        "identity.device_print_attributes", "binding.bindings", "binding.authorizations", "identity.verifications",
        "identity.liveness_checks", "identity.account_tiers", "permissions.enterprise_members",
        "permissions.quota_usage", "permissions.active_days", "permissions.enterprise_policies",
        "deregistration.enterprise_admins", "binding.migration_plans",
    ]

    /// `schema.table` → row count, for every base table of `schemas`.
    static func tableCounts(_ pool: PostgresPool, schemas: [String]) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let tables = try await pool.query(
            """
            SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
            WHERE table_type = 'BASE TABLE' AND table_schema = ANY(\(schemas)::text[])
            """
        ).map { try $0.decode("t", as: String.self) }
        for table in tables {
            // Names come from the catalogue above.
            counts[table] = try await pool.query(
                PostgresQuery(trusted: "SELECT count(*)::int AS n FROM \(table)")
            )
            .first?.decode("n", as: Int.self)
        }
        return counts
    }

    /// One valid command per type, pointing at real state, whose string leaves get the corpus.
    static func templates(account: JSONValue, registrationId: String, enterprise: String, session: String)
        -> [Template]
    {
        let registration: JSONValue = .string(registrationId)
        let uuid = { JSONValue.string(UUID().uuidString.lowercased()) }
        let device = IdentityClient.device(customRom: "MIUI")
        let ip = IdentityClient.ip()
        let fingerprint = JSONValue.object(IdentityClient.fingerprint().mapValues(JSONValue.string))
        return [
            Template(
                topic: "identity.commands", type: "registration.start",
                data: .object([
                    "phone": .string(IdentityClient.phone()), "device": device, "ip": ip, "scanTicket": .string("t"),
                ])),
            Template(
                topic: "identity.commands", type: "registration.verify_sms",
                data: .object(["registrationId": registration, "code": .string("000000")])),
            Template(
                topic: "identity.commands", type: "registration.set_password",
                data: .object(["registrationId": registration, "password": .string("Sunflower-42")])),
            Template(
                topic: "identity.commands", type: "registration.complete_profile",
                data: .object([
                    "registrationId": registration, "displayName": .string("Tester"),
                    "securityQuestions": .array(
                        (0..<3).map { _ in .object(["question": .string("q"), "answer": .string("a")]) }),
                ])),
            Template(
                topic: "identity.commands", type: "registration.submit_documents",
                data: .object([
                    "registrationId": registration, "documentType": .string("passport"), "documentRef": .string("d"),
                ])),
            Template(
                topic: "identity.commands", type: "registration.security_check",
                data: .object(["registrationId": registration])),
            Template(
                topic: "identity.commands", type: "login",
                data: .object([
                    "phone": .string(IdentityClient.phone()), "password": .string("Sunflower-42"),
                    "device": IdentityClient.device(), "ip": ip,
                ])),
            Template(
                topic: "identity.commands", type: "device.approve", data: .object(["challengeId": uuid()]),
                session: session),
            Template(
                topic: "identity.commands", type: "device.answer_security_questions",
                data: .object(["challengeId": uuid(), "answers": .array([.string("a"), .string("b"), .string("c")])])),
            Template(
                topic: "identity.commands", type: "device.unbind", data: .object(["deviceId": uuid()]), session: session
            ),
            Template(
                topic: "identity.commands", type: "verification.submit",
                data: .object([
                    "accountId": account, "method": .string("bank_card"),
                    "cardNumber": .string(IdentityClient.cardNumber()),
                    "holderName": .string("Li Mei"),
                ]), session: session),
            Template(
                topic: "identity.commands", type: "verification.submit",
                data: .object([
                    "method": .string("id_card"), "idNumber": .string(IdentityClient.residentID()),
                    "name": .string("Li Mei"),
                    "liveness": .object(["passed": .bool(false)]), "handheldPhotoRef": .string("p"),
                    "statement": .string("s"),
                ]), session: session),
            Template(
                topic: "identity.commands", type: "review.decide",
                data: .object(["taskId": uuid(), "decision": .string("reject"), "note": .string("n")])),
            Template(
                topic: "permissions.commands", type: "permissions.check",
                data: .object(["accountId": account, "action": .string("file.send"), "context": .object([:])])),
            Template(
                topic: "permissions.commands", type: "enterprise.create",
                data: .object(["enterpriseId": .string("e"), "name": .string("n"), "adminAccountId": account])),
            Template(
                topic: "permissions.commands", type: "enterprise.add_member",
                data: .object([
                    "enterpriseId": .string(enterprise), "accountId": uuid(), "role": .string("member"),
                ]), session: session),
            Template(
                topic: "permissions.commands", type: "enterprise.set_member_policy",
                data: .object([
                    "enterpriseId": .string(enterprise), "accountId": .string("*"),
                    "overrides": .object(["momentsEnabled": .bool(true)]),
                ]), session: session),
            Template(
                topic: "permissions.commands", type: "enterprise.transfer_admin",
                data: .object(["enterpriseId": .string(enterprise), "toAccountId": uuid()]), session: session),
            Template(
                topic: "binding.commands", type: "binding.link",
                data: .object([
                    "accountId": account, "provider": .string("dingtalk"), "externalAccountId": .string("x"),
                    "mode": .string("temporary"), "scopes": .array([.string("login")]),
                ]), session: session),
            Template(
                topic: "binding.commands", type: "binding.unlink",
                data: .object(["accountId": account, "provider": .string("feishu")]), session: session),
            Template(
                topic: "binding.commands", type: "migration.start",
                data: .object([
                    "accountId": account,
                    "manifest": .object([
                        "freeStorageBytes": .int(8 << 30),
                        "items": .array([BindingClient.item("text"), BindingClient.item("sticker")]),
                    ]),
                ]), session: session),
            Template(
                topic: "deregistration.commands", type: "deregistration.request",
                data: .object(["accountId": uuid(), "deviceFingerprint": fingerprint]), session: session),
            Template(
                topic: "deregistration.commands", type: "deregistration.send_revoke_code",
                data: .object(["phone": .string(IdentityClient.phone())])),
            Template(
                topic: "deregistration.commands", type: "deregistration.revoke",
                data: .object(["phone": .string(IdentityClient.phone()), "code": .string("123456")])),
        ]
    }

    /// Registrations, enterprises, bindings and reviews carrying each value, read back from the
    /// services' own tables.
    static func roundTrips(
        _ identity: IdentityClient, _ permissions: PermissionsClient,
        _ owner: (accountId: String, sessionToken: String, deviceId: String, registrationId: String),
        _ operatorToken: String
    ) async throws -> (checked: Int, failures: [String]) {
        let identityDB = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        let permissionsDB = PostgresPool(configuration: TestStack.postgres(searchPath: ["permissions"]))
        let bindingDB = PostgresPool(configuration: TestStack.postgres(searchPath: ["binding"]))
        let reviewer = try await identity.addOperator(
            name: "Injection \(UUID().uuidString.prefix(4))", databaseURL: TestStack.configuration.databaseURL)
        let binding = BindingClient(client: identity.client)
        return try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
            for value in corpus {
                group.addTask {
                    var failures: [String] = []
                    var checked = 0
                    func same(_ what: String, _ stored: String?) {
                        checked += 1
                        if stored != value {
                            failures.append("\(what) did not round-trip: \(stored?.prefix(40) ?? "nil")")
                        }
                    }
                    // A mainland account: display name, security question, device model, IP, a fingerprint value.
                    let phone = IdentityClient.phone()
                    // Indexed fields have a length rule: the long value goes only where it may.
                    let fitsKey = value.count <= Security.policy.devices.maxFingerprintValueLength
                    let fitsIP = value.count <= Security.policy.registration.maxIPAddressLength
                    var print = IdentityClient.fingerprint()
                    if fitsKey { print["kernel"] = value }
                    let device: JSONValue = {
                        guard case .object(var fields) = IdentityClient.device(fingerprint: print) else { return .null }
                        fields["model"] = .string(value)
                        return .object(fields)
                    }()
                    let ip = fitsIP ? IdentityClient.ip(value) : IdentityClient.ip()
                    let password = "Pw-\(value)"
                    let name = short(value) ? value : "Tester"
                    let started = try await identity.start(phone: phone, device: device, ip: ip)
                    guard let registrationId = started.string("registrationId") else {
                        return (1, ["start with \(value.prefix(20)): \(started.code ?? "-")"])
                    }
                    let code = try await identity.smsCode(for: phone)
                    _ = try await identity.send(
                        "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(code)])
                    let set = try await identity.send(
                        "registration.set_password",
                        ["registrationId": .string(registrationId), "password": .string(password)])
                    if !short(value) {
                        // A name past the rule's 64 characters is refused by name, not stored cut.
                        let long = try await identity.send(
                            "registration.complete_profile",
                            ["registrationId": .string(registrationId), "displayName": .string(value)])
                        checked += 1
                        if long.code != "MALFORMED" || long.result["field"] != .string("data.displayName") {
                            failures.append("long displayName: \(long.code ?? "-")")
                        }
                    }
                    let profile = try await identity.send(
                        "registration.complete_profile",
                        [
                            "registrationId": .string(registrationId), "displayName": .string(name),
                            "securityQuestions": .array(
                                (1...3).map { n in
                                    .object(["question": .string("\(n) \(value)"), "answer": .string(value)])
                                }),
                        ])
                    let done = try await identity.send(
                        "registration.security_check",
                        [
                            "registrationId": .string(registrationId),
                            "behavior": .object(["typingRhythmScore": .double(0.9), "swipeScore": .double(0.9)]),
                            "liveness": .object(["passed": .bool(true)]),
                        ])
                    guard set.code == "OK", profile.code == "OK", let accountId = done.string("accountId"),
                        let session = done.string("sessionToken")
                    else {
                        return (
                            checked + 1,
                            failures + [
                                "flow with \(value.prefix(20)): \(set.code ?? "-") \(profile.code ?? "-") \(done.code ?? "-")"
                            ]
                        )
                    }
                    let row = try await identityDB.query(
                        """
                        SELECT a.display_name, a.security_questions -> 0 ->> 'question' AS question, d.model,
                               r.ip_address, (SELECT value FROM device_print_attributes WHERE print_id = d.print_id
                               AND name = 'kernel') AS kernel
                        FROM accounts a JOIN devices d ON d.account_id = a.id JOIN registrations r ON r.id = a.registration_id
                        WHERE a.id = \(accountId)::uuid
                        """
                    ).first
                    if short(value) { same("displayName", try row?.decode("display_name")) }
                    let question = try row?.decode("question", as: String?.self) ?? nil
                    same("security question", question.map { String($0.dropFirst(2)) })
                    same("device model", try row?.decode("model"))
                    if fitsIP { same("ip address", try row?.decode("ip_address")) }
                    if fitsKey { same("fingerprint attribute", try row?.decode("kernel")) }
                    // The password round-trips through Argon2id: it signs in.
                    let login = try await identity.login(phone: phone, password: password, device: device)
                    checked += 1
                    if login.code != "OK" { failures.append("login with a hostile password: \(login.code ?? "-")") }

                    // An enterprise named by the value (its id carries it too).
                    try await permissions.known(accountId)
                    let enterprise = "e-\(UUID().uuidString.prefix(6))-\(short(value) ? value : "long")"
                    let created = try await permissions.send(
                        "enterprise.create",
                        [
                            "enterpriseId": .string(enterprise), "name": .string(value),
                            "adminAccountId": .string(accountId),
                        ], operatorToken: operatorToken)
                    if created.code == "OK" {
                        let stored = try await permissionsDB.query(
                            "SELECT name FROM enterprises WHERE enterprise_id = \(enterprise)"
                        ).first?.decode("name", as: String.self)
                        same("enterprise name", stored)
                    } else {
                        checked += 1
                        failures.append("enterprise.create: \(created.code ?? "-")")
                    }

                    // A binding to an external account named by the value.
                    let external = "\(value)-\(UUID().uuidString.prefix(6))"
                    let linked = try await binding.link(
                        accountId, "wechat", external: external, scopes: ["login"], session: session)
                    if external.count > Security.policy.binding.maxExternalAccountIdLength {
                        checked += 1
                        if linked.code != "MALFORMED" {
                            failures.append("long externalAccountId: \(linked.code ?? "-")")
                        }
                    } else if linked.code == "OK" {
                        let stored = try await bindingDB.query(
                            "SELECT external_account_id FROM bindings WHERE account_id = \(accountId)::uuid"
                        ).first?.decode("external_account_id", as: String.self)
                        checked += 1
                        if stored != external { failures.append("externalAccountId did not round-trip") }
                    } else {
                        checked += 1
                        failures.append("binding.link: \(linked.code ?? "-")")
                    }

                    // An international registration: documents and a review note.
                    let international = "+8529\(Int.random(in: 1_000_000...9_999_999))"
                    let (abroad, _) = try await identity.registerToSecurityCheck(phone: international)
                    let submitted = try await identity.send(
                        "registration.submit_documents",
                        [
                            "registrationId": .string(abroad), "documentType": .string(value),
                            "documentRef": .string(value),
                        ])
                    if let taskId = submitted.string("taskId") {
                        let evidence = try await identityDB.query(
                            "SELECT evidence ->> 'documentRef' AS ref FROM review_tasks WHERE id = \(taskId)::uuid"
                        ).first?.decode("ref", as: String?.self)
                        same("documentRef", evidence)
                        let decided = try await identity.decide(
                            taskId, "reject", note: value, operatorToken: reviewer.token)
                        let note = try await identityDB.query(
                            "SELECT note FROM review_decisions WHERE task_id = \(taskId)::uuid"
                        ).first?.decode("note", as: String?.self)
                        if value.count <= 2000 {
                            same("review note", note)
                        } else {
                            // Notes are limited to 2,000 characters: refused by name.
                            checked += 1
                            if decided.code != "MALFORMED" { failures.append("long note: \(decided.code ?? "-")") }
                        }
                    } else {
                        checked += 1
                        failures.append("submit_documents: \(submitted.code ?? "-")")
                    }
                    return (checked, failures)
                }
            }
            return try await group.reduce(into: (0, [String]())) {
                $0.0 += $1.0
                $0.1 += $1.1
            }
        }
    }
}
