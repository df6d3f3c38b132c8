/// The HTTP status that answers a reply (docs/decisions.md, "HTTP gateway", has the table).
public enum StatusMapping {
    /// `ok` → 200, `pending_review` → 202, `rejected` → `rejectedStatus(code)`.
    public static func status(replyStatus: String, code: String) -> Int {
        switch replyStatus {
        case "ok": return 200
        case "pending_review": return 202
        default: return rejectedStatus(code)
        }
    }

    /// The status of a rejection, by its contract code; a code not listed is 422.
    public static func rejectedStatus(_ code: String) -> Int { table[code] ?? 422 }

    /// Rejection code → status.
    public static let table: [String: Int] = {
        var table: [String: Int] = [:]
        func set(_ status: Int, _ codes: [String]) { for code in codes { table[code] = status } }
        // The request itself is wrong.
        set(400, ["MALFORMED", "UNSUPPORTED_VERSION"])
        // No valid credential.
        set(401, ["UNAUTHENTICATED", "INVALID_CREDENTIALS"])
        // A valid credential that may not do this, or a rule that forbids it outright.
        set(
            403,
            [
                "FORBIDDEN", "EMULATOR_FORBIDDEN", "REGISTRATION_NOT_AVAILABLE_ON_WEB", "DEVICE_UNSUPPORTED",
                "CONSENT_REQUIRED", "CONSENT_NOT_WITHDRAWABLE",
            ])
        // What the command names does not exist (or no longer does).
        set(
            404,
            [
                "ACCOUNT_NOT_FOUND", "BINDING_NOT_FOUND", "CHALLENGE_NOT_FOUND", "DEVICE_NOT_FOUND",
                "ENTERPRISE_NOT_FOUND", "EXPORT_NOT_FOUND", "MIGRATION_PLAN_NOT_FOUND", "OPERATOR_NOT_FOUND",
                "PHONE_CHANGE_NOT_FOUND", "REGISTRATION_NOT_FOUND", "REVIEW_NOT_FOUND", "SESSION_NOT_FOUND",
                "NOT_A_MEMBER",
            ])
        // The state of things conflicts with the command.
        set(
            409,
            [
                "PHONE_IN_USE", "PHONE_IN_COOLDOWN", "DEVICE_ACCOUNT_LIMIT", "DEVICE_LIMIT", "PRIMARY_EXISTS",
                "BINDING_CONFLICT", "BINDING_REQUIRED", "ENTERPRISE_EXISTS", "EXTERNAL_ACCOUNT_TAKEN", "LAST_ADMIN",
                "ADMIN_TRANSFER_REQUIRED", "COOLDOWN_OVER", "DEREGISTRATION_PENDING", "DEVICE_NOT_LOCKED",
                "REVIEW_CLOSED", "STEP_OUT_OF_ORDER", "SAME_PHONE",
            ])
        // Gone: a flow or code that expired.
        set(410, ["REGISTRATION_EXPIRED", "SMS_CODE_EXPIRED"])
        // Locked until someone or some time lifts it.
        set(
            423,
            ["ACCOUNT_LOCKED", "ACCOUNT_FROZEN", "ACCOUNT_TEMPORARILY_LOCKED", "DEVICE_LOCKED", "SMS_CODE_LOCKED"])
        // A further step is needed first.
        set(
            428,
            [
                "STEP_UP_REQUIRED", "DEVICE_VERIFICATION_REQUIRED", "SCAN_REQUIRED", "EVIDENCE_REQUIRED",
                "LIVENESS_FAILED",
            ])
        set(429, ["RATE_LIMITED"])
        set(500, ["INTERNAL_ERROR"])
        // Everything else (INVALID_PHONE, PASSWORD_TOO_WEAK, SMS_CODE_INVALID, SCOPE_UNSUPPORTED,
        // INSUFFICIENT_STORAGE, ...) is a well-formed request a rule refused: 422.
        return table
    }()
}
