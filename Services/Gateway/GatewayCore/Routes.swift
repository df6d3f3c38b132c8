import Contract

/// The credential a route takes from `Authorization: Bearer …`.
public enum RouteAuth: String, Sendable, Codable {
    /// No token: whatever `Authorization` holds is not forwarded.
    case none
    /// The bearer token becomes the command's `sessiontoken`; missing → 401 at the gateway.
    case session
    /// The bearer token becomes `operatortoken` (every `/ops/` route); missing → 401.
    case `operator`
}

/// One HTTP route: a client-facing command of the contract.
///
/// The scheme (docs/decisions.md, "HTTP gateway"): `/v1/` + the command type with `.` → `/` and
/// `_` → `-`, `POST` with the command's `data` as the JSON body. Reads that need no body are also
/// `GET` under a noun (`GET /v1/account` = `account.get`), their fields as query parameters.
/// Operator commands live under `/ops/` the same way. Every route is listed in
/// `deploy/gateway-routes.json`, from which `docs/openapi.yaml` is generated.
public struct Route: Sendable, Codable, Equatable {
    /// `GET` or `POST`.
    public var method: String
    /// The path, without a query.
    public var path: String
    /// The service whose command topic receives the command.
    public var service: String
    /// The command type.
    public var type: String
    /// Which token the route takes.
    public var auth: RouteAuth
    /// True when the command's `data` carries the contract's `ip`, which the gateway stamps.
    public var stampsIP: Bool
    /// For `GET` routes: query parameters copied into `data` (as strings, or integers where named
    /// in `integerQuery`).
    public var query: [String]
    /// Query parameters that are integers.
    public var integerQuery: [String]

    /// Creates a route.
    public init(
        _ method: String, _ path: String, _ service: RegistrarService, _ type: String, auth: RouteAuth,
        stampsIP: Bool = false, query: [String] = [], integerQuery: [String] = []
    ) {
        self.method = method
        self.path = path
        self.service = service.rawValue
        self.type = type
        self.auth = auth
        self.stampsIP = stampsIP
        self.query = query
        self.integerQuery = integerQuery
    }

    /// The command topic (base name).
    public var topic: String { "\(service).commands" }
}

/// Every route of the gateway.
public enum Routes {
    /// The table (kept equal to `deploy/gateway-routes.json` by a unit test).
    public static let all: [Route] = [
        Route("GET", "/v1/ping", .identity, "system.ping", auth: .none),
        // Registration.
        Route("POST", "/v1/registration/start", .identity, "registration.start", auth: .none, stampsIP: true),
        Route("POST", "/v1/registration/verify-sms", .identity, "registration.verify_sms", auth: .none),
        Route("POST", "/v1/registration/set-password", .identity, "registration.set_password", auth: .none),
        Route("POST", "/v1/registration/complete-profile", .identity, "registration.complete_profile", auth: .none),
        Route("POST", "/v1/registration/submit-documents", .identity, "registration.submit_documents", auth: .none),
        Route("POST", "/v1/registration/security-check", .identity, "registration.security_check", auth: .none),
        // Sign-in, sessions, devices.
        Route("POST", "/v1/login", .identity, "login", auth: .none, stampsIP: true),
        Route("POST", "/v1/session/refresh", .identity, "session.refresh", auth: .none),
        Route("POST", "/v1/logout", .identity, "logout", auth: .session),
        Route("GET", "/v1/sessions", .identity, "sessions.list", auth: .session),
        Route("POST", "/v1/sessions/revoke", .identity, "sessions.revoke", auth: .session),
        Route("POST", "/v1/device/approve", .identity, "device.approve", auth: .session),
        Route(
            "POST", "/v1/device/answer-security-questions", .identity, "device.answer_security_questions",
            auth: .none),
        Route("POST", "/v1/device/unbind", .identity, "device.unbind", auth: .session),
        Route("POST", "/v1/desktop/scan-ticket/issue", .identity, "desktop.scan_ticket.issue", auth: .session),
        // Password and phone.
        Route("POST", "/v1/password/reset/start", .identity, "password.reset.start", auth: .none, stampsIP: true),
        Route(
            "POST", "/v1/password/reset/complete", .identity, "password.reset.complete", auth: .none, stampsIP: true),
        Route("POST", "/v1/password/change", .identity, "password.change", auth: .session),
        Route("POST", "/v1/phone/change/start", .identity, "phone.change.start", auth: .session),
        Route("POST", "/v1/phone/change/complete", .identity, "phone.change.complete", auth: .session),
        Route("POST", "/v1/phone/change/by-review", .identity, "phone.change.by_review", auth: .session),
        // Own account.
        Route("GET", "/v1/account", .identity, "account.get", auth: .session),
        Route("GET", "/v1/devices", .identity, "devices.list", auth: .session),
        Route("POST", "/v1/profile/update", .identity, "profile.update", auth: .session),
        Route("POST", "/v1/security-questions/set", .identity, "security_questions.set", auth: .session),
        Route("POST", "/v1/verification/submit", .identity, "verification.submit", auth: .session),
        Route("POST", "/v1/account/export", .identity, "account.export", auth: .session),
        Route(
            "GET", "/v1/account/export", .identity, "account.export.get", auth: .session, query: ["exportId", "part"],
            integerQuery: ["part"]),
        Route("GET", "/v1/consents", .identity, "consents.list", auth: .session),
        Route("POST", "/v1/consent/withdraw", .identity, "consent.withdraw", auth: .session),
        Route("POST", "/v1/consent/grant", .identity, "consent.grant", auth: .session),
        // Permissions, bindings, migration.
        Route("GET", "/v1/entitlements", .permissions, "entitlements.get", auth: .session, query: ["accountId"]),
        Route("GET", "/v1/bindings", .binding, "bindings.list", auth: .session, query: ["accountId"]),
        Route("POST", "/v1/binding/link", .binding, "binding.link", auth: .session),
        Route("POST", "/v1/binding/unlink", .binding, "binding.unlink", auth: .session),
        Route("POST", "/v1/migration/start", .binding, "migration.start", auth: .session),
        Route("GET", "/v1/migration", .binding, "migration.get", auth: .session, query: ["accountId"]),
        // Deregistration.
        Route("POST", "/v1/deregistration/request", .deregistration, "deregistration.request", auth: .session),
        Route(
            "POST", "/v1/deregistration/send-revoke-code", .deregistration, "deregistration.send_revoke_code",
            auth: .none),
        Route("POST", "/v1/deregistration/revoke", .deregistration, "deregistration.revoke", auth: .none),
        Route(
            "GET", "/v1/deregistration", .deregistration, "deregistration.status", auth: .session,
            query: ["accountId"]),
        // Operators.
        Route("POST", "/ops/review/decide", .identity, "review.decide", auth: .operator),
        Route("POST", "/ops/support/account/lookup", .identity, "support.account.lookup", auth: .operator),
        Route("POST", "/ops/support/account/unlock", .identity, "support.account.unlock", auth: .operator),
        Route(
            "POST", "/ops/support/sessions/revoke-all", .identity, "support.sessions.revoke_all", auth: .operator),
        Route("POST", "/ops/enterprise/create", .permissions, "enterprise.create", auth: .operator),
    ]

    /// Routes by `METHOD path`.
    static let byKey: [String: Route] = Dictionary(uniqueKeysWithValues: all.map { ("\($0.method) \($0.path)", $0) })
    /// Paths that exist (for 405 rather than 404).
    static let paths: Set<String> = Set(all.map(\.path))

    /// The route for `method` and `path`.
    public static func match(method: String, path: String) -> Route? { byKey["\(method) \(path)"] }

    /// True when some method serves `path`.
    public static func exists(path: String) -> Bool { paths.contains(path) }
}
