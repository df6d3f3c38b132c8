import Foundation

/// Every number of the contract's rules, with the contract's defaults (§7).
///
/// A policy file (JSON, `REGISTRAR_POLICY`) overrides any subset: it is merged key by key over the
/// defaults, and a key the defaults do not have is an error (a misspelt key must not be ignored).
/// Durations are strings with a unit: `300ms`, `2s`, `5m`, `24h`, `14d`.
public struct Policy: Codable, Sendable, Equatable {
    /// Registration entry rules.
    public var registration = Registration()
    /// SMS one-time codes.
    public var sms = SMS()
    /// Password rules.
    public var password = Password()
    /// Risk engine (§6).
    public var risk = Risk()
    /// Devices and fingerprints.
    public var devices = Devices()
    /// Login and sessions.
    public var login = Login()
    /// Password reset and phone change.
    public var recovery = Recovery()
    /// Real-name verification and reviews.
    public var verification = Verification()
    /// Entitlements and quotas.
    public var permissions = Permissions()
    /// Third-party bindings and migration.
    public var binding = Binding()
    /// Deregistration and retention.
    public var deregistration = Deregistration()
    /// Message runtime limits and the retention of the runtime's tables.
    public var runtime = Runtime()
    /// How long the broker keeps each kind of topic (`registrar topics create`).
    public var topics = TopicRetention()
    /// Not in the contract (issue 17): data export and consents.
    public var privacy = Privacy()
    /// Not in the contract (issue 19): the HTTP gateway's edge protection.
    public var gateway = Gateway()
    /// Not in the contract (issue 18): user notifications on `notifications.push`.
    public var notifications = Notifications()

    /// The contract's defaults.
    public init() {}

    /// Registration entry rules.
    public struct Registration: Codable, Sendable, Equatable {
        public var iosMinVersion = 11.0
        public var iosMinChip = 9
        public var androidMinVersion = 7.0
        public var androidMinRamMB = 2048
        public var harmonyosMinVersion = 2.0
        public var maxAccountsPerDevice = 3
        public var startsPerPhonePerWindow = 5
        public var startsPerDevicePerWindow = 10
        public var startsPerIPPerWindow = 20
        public var rateWindow = PolicyDuration.hours(1)
        public var phoneReuseCooldown = PolicyDuration.days(31)
        public var scanTicketValidity = PolicyDuration.minutes(2)
        /// The device matrix's recommended configuration (issue 18): below it a registration
        /// succeeds with warning `BELOW_RECOMMENDED_HARDWARE`.
        public var recommendedAppleChip = 12
        public var recommendedSnapdragon = 660
        public var recommendedKirin = 980
        /// Not in the contract: how long an unfinished registration stays open.
        public var flowValidity = PolicyDuration.hours(1)
        /// Not in the contract: the longest `ip.address` (an IPv6 text form has at most 45
        /// characters; addresses are indexed); longer is `MALFORMED`.
        public var maxIPAddressLength = 64
    }

    /// SMS one-time codes.
    public struct SMS: Codable, Sendable, Equatable {
        public var codeLength = 6
        public var validity = PolicyDuration.minutes(5)
        public var maxAttempts = 5
        /// Not in the contract: SMS one service may send in `globalWindow` (a sliding window), over
        /// every phone, device and IP — the budget that caps the cost of SMS pumping. Each service
        /// that sends SMS (identity, deregistration) keeps its own.
        public var globalSendsPerWindow = 3000
        public var globalWindow = PolicyDuration.minutes(1)
    }

    /// Password rules.
    public struct Password: Codable, Sendable, Equatable {
        public var minLength = 8
        /// Argon2id memory in KiB (OWASP minimum 19 MiB).
        public var argon2MemoryKiB = 19_456
        /// Argon2id passes (OWASP minimum 2).
        public var argon2Iterations = 2
    }

    /// Risk engine (§6).
    public struct Risk: Codable, Sendable, Equatable {
        /// Share of registrations showing the factor that must pass at least medium / high.
        public var stepUp: [String: StepUpShare] = [
            "new_device": StepUpShare(medium: 0.30, high: 0.05),
            "proxy_ip": StepUpShare(medium: 0.75, high: 0.25),
            "late_night": StepUpShare(medium: 0.50, high: 0.15),
        ]
        public var lateNightStartHour = 0
        public var lateNightEndHour = 6
        public var burstStarts = 3
        public var burstWindow = PolicyDuration.minutes(10)
        public var behaviorMinScore = 0.6
        /// Not in the contract (issue 18): the service level of a `risk_review` task, the manual
        /// review that completes a `high` security check when liveness is not possible.
        public var manualReviewSLA = PolicyDuration.hours(24)
        /// Not in the contract (issue 18): the step-up level a new device's security answers must
        /// reach, by the account's stage risk level (the stage table); the original device's scan
        /// satisfies every level.
        public var newDeviceStepUp: [String: String] = ["high": "high", "medium": "medium", "low": "basic"]
    }

    /// One row of the step-up table.
    public struct StepUpShare: Codable, Sendable, Equatable {
        public var medium: Double
        public var high: Double
    }

    /// Devices and fingerprints.
    public struct Devices: Codable, Sendable, Equatable {
        public var similarityThreshold = 0.6
        public var minFingerprintAttributes = 20
        /// Not in the contract: the longest fingerprint attribute value (values are indexed); longer
        /// is `MALFORMED`.
        public var maxFingerprintValueLength = 256
        public var maxDevicesPerAccount = 5
        public var maxWrongSecurityAnswers = 3
        /// Accounts signed in at once on one device (issue 18, "at most 3 accounts" of the device
        /// paragraph): a sign-in beyond it signs the least recently used account out of the device.
        public var maxSignedInAccountsPerDevice = 3
        public var challengeValidity = PolicyDuration.minutes(10)
        /// The platform table's "scan verification: mandatory" (issue 18): a new device of these
        /// platforms is approved only by the original device's scan, never by security questions.
        public var scanMandatoryPlatforms = ["android"]
        /// The platform table's biometric column (issue 18): platforms whose bound devices may
        /// register a key for biometric sign-in (iOS Face ID/Touch ID, Android and HarmonyOS
        /// fingerprint); Windows, macOS and the web have none.
        public var deviceKeyPlatforms = ["ios", "android", "harmonyos"]
        /// How long a `login.challenge` for a biometric sign-in may be answered (used once).
        public var deviceKeyChallengeValidity = PolicyDuration.minutes(2)
    }

    /// Login and sessions.
    public struct Login: Codable, Sendable, Equatable {
        public var maxFailures = 5
        public var failureWindow = PolicyDuration.minutes(15)
        /// First temporary lock; each further one doubles, up to `maxLockout`.
        public var baseLockout = PolicyDuration.minutes(1)
        public var maxLockout = PolicyDuration.hours(1)
        /// How long an access token (the `sessiontoken` commands carry) is valid.
        public var accessTokenValidity = PolicyDuration.hours(1)
        /// How long a refresh token is valid; each `session.refresh` issues a new one for as long
        /// again, so a session unused for this long ends.
        public var refreshTokenValidity = PolicyDuration.days(30)
    }

    /// Not in the contract (issue 16): password reset and phone change. Their codes follow `sms`.
    public struct Recovery: Codable, Sendable, Equatable {
        /// `password.reset.start`s a phone, a recognised device and an IP may make in `rateWindow`.
        public var resetStartsPerPhonePerWindow = 5
        public var resetStartsPerDevicePerWindow = 10
        public var resetStartsPerIPPerWindow = 20
        /// `phone.change.start`s an account may make in `rateWindow` (each sends two SMS).
        public var phoneChangeStartsPerAccountPerWindow = 5
        public var rateWindow = PolicyDuration.hours(1)
        /// Whether the old number of a completed phone change is blocked for registration for
        /// `registration.phoneReuseCooldown`, as a deregistered number is.
        public var blockOldPhone = true
    }

    /// Real-name verification and reviews.
    public struct Verification: Codable, Sendable, Equatable {
        public var noneValidity = PolicyDuration.days(30)
        public var bankCardValidity = PolicyDuration.days(365)
        public var bankCardCheckSLA = PolicyDuration.minutes(2)
        public var idCardCheckSLA = PolicyDuration.minutes(15)
        public var idConflictReviewSLA = PolicyDuration.hours(72)
        public var internationalReviewBusinessDays = 5
        /// Not in the contract: how often the identity service looks for tiers that ended.
        public var expirySweepInterval = PolicyDuration.minutes(1)
    }

    /// Entitlements and quotas.
    public struct Permissions: Codable, Sendable, Equatable {
        public var stageOneLastDay = 7
        public var stageTwoLastDay = 30
        public var stageOneFileCapBytes = 10 * 1024 * 1024
        public var stageTwoExternalAddsPerDay = 50
        public var sensitiveMinActiveDays = 20
        public var sensitiveMinLogins = 3
        public var fingerprintMismatchWindow = PolicyDuration.days(30)
        public var unverifiedMaxGroupSize = 50
        public var bankCardMaxGroupSize = 200
        public var bankCardPaymentPerDayCNY = 5000
        public var sweepInterval = PolicyDuration.minutes(1)
        /// Not in the contract: the length of a "day" for stages, active days and daily quotas
        /// (a day in the account's time zone); tests shorten it.
        public var dayLength = PolicyDuration.days(1)
        /// Not in the contract (issue 18): how long an `enterprise.invite` stays open; accepting it
        /// later is `INVITATION_EXPIRED`.
        public var invitationValidity = PolicyDuration.days(7)
    }

    /// Third-party bindings and migration.
    public struct Binding: Codable, Sendable, Equatable {
        public var capabilities: [String: [String]] = [
            "wechat": ["login", "messaging", "friend_list", "notifications"],
            "dingtalk": ["login", "data_sync", "calendar"],
            "feishu": ["login", "data_sync", "messaging", "calendar"],
        ]
        public var friendListValidity = PolicyDuration.days(90)
        public var temporaryValidity = PolicyDuration.hours(24)
        public var migrationTextWindow = PolicyDuration.days(90)
        public var migrationMinFreeBytes: Int64 = 5 * 1024 * 1024 * 1024
        /// Not in the contract: the longest `externalAccountId` (indexed, unique per provider);
        /// longer is `MALFORMED`.
        public var maxExternalAccountIdLength = 256
        public var sweepInterval = PolicyDuration.minutes(1)
    }

    /// Deregistration and retention.
    public struct Deregistration: Codable, Sendable, Equatable {
        public var cooldown = PolicyDuration.days(14)
        public var deviceLockAt = 4
        public var deviceWindow = PolicyDuration.days(180)
        public var contactRetention = PolicyDuration.days(30)
        public var schedulerInterval = PolicyDuration.seconds(1)
        /// Not in the contract: `send_revoke_code` requests per phone (known or not) in
        /// `revokeCodeWindow`; more are `RATE_LIMITED`.
        public var revokeCodesPerPhonePerWindow = 5
        public var revokeCodeWindow = PolicyDuration.hours(1)
        /// Not in the contract (issue 18): how long before the cool-down ends the user is reminded
        /// (`deregistration.reminder` on `notifications.push`, once per request).
        public var reminderBeforeEnd = PolicyDuration.hours(24)
    }

    /// Not in the contract (issue 18): user notifications (`notifications.push`).
    public struct Notifications: Codable, Sendable, Equatable {
        /// The locale of every notification: no service knows a user's language (the app does;
        /// the push gateway may re-render with the device's), so the platform's home market's.
        public var defaultLocale = "zh-CN"
        /// The locales `deploy/templates/` has every template in.
        public var locales = ["zh-CN", "en"]
    }

    /// Not in the contract (issue 17): data export and consents.
    public struct Privacy: Codable, Sendable, Equatable {
        /// The privacy-policy version in force: recorded as accepted at registration, and what
        /// `consent.grant {kind: privacy_policy}` accepts.
        public var policyVersion = "2026-11"
        /// How long an export is kept for its owner to read; then the sweep deletes it.
        public var exportValidity = PolicyDuration.days(7)
        /// `account.export`s one account may make in `exportWindow` (a sliding window).
        public var exportsPerWindow = 3
        public var exportWindow = PolicyDuration.days(1)
        /// The most bytes of the bundle's JSON text, escaped as a JSON string, one
        /// `account.export.get` answers (the message limit is 64 KiB).
        public var exportPartBytes = 48 * 1024
        /// The most entries of each list a service puts in its `account.export_part` (the newest);
        /// the part says `truncated` when it left some out.
        public var exportListLimit = 100
        /// How often identity deletes expired exports (and how many one run takes).
        public var exportSweepInterval = PolicyDuration.minutes(1)
        public var exportSweepBatch = 500
    }

    /// Not in the contract (issue 19): the HTTP gateway's edge protection. Its request body limit is
    /// `runtime.maxMessageBytes`, the services' own message limit.
    public struct Gateway: Codable, Sendable, Equatable {
        /// Requests one client address may make in `rateWindow`, over every route (then 429).
        public var requestsPerIPPerWindow = 600
        /// Requests one client address may make to one route in `rateWindow`, unless `routeLimits`
        /// names the route's command type.
        public var requestsPerIPPerRoutePerWindow = 120
        /// Per-route limits per client address and window, by command type (tighter for the
        /// routes that send SMS or check passwords).
        public var routeLimits: [String: Int] = [
            "registration.start": 20, "login": 30, "password.reset.start": 20, "password.reset.complete": 30,
            "deregistration.send_revoke_code": 20, "phone.change.start": 20,
        ]
        /// The window of the limits above (fixed windows per address).
        public var rateWindow = PolicyDuration.minutes(1)
        /// How long a request waits for its reply on `registrar.replies` before 504.
        public var replyTimeout = PolicyDuration.seconds(10)
        /// How long a client may take to send a whole request (head and body) once it started one.
        public var requestReadTimeout = PolicyDuration.seconds(10)
        /// How long an idle keep-alive connection is kept open.
        public var idleTimeout = PolicyDuration.seconds(60)
        /// Client addresses whose counters are kept at most (the oldest window is dropped first).
        public var maxTrackedAddresses = 100_000
    }

    /// Message runtime limits.
    public struct Runtime: Codable, Sendable, Equatable {
        public var maxMessageBytes = 64 * 1024
        public var maxJSONDepth = 64
        /// Messages taken from the consumer at once and handled in one transaction (at most).
        public var consumeBatchSize = 50
        public var relayBatchSize = 500
        public var relayIdlePoll = PolicyDuration.seconds(1)
        public var retryBackoffMax = PolicyDuration.seconds(5)
        /// Not in the contract: how long an inbox row of a command (its id and kept reply) is kept.
        /// It must outlast every way the same id can come back (docs/decisions.md, "Retention of
        /// runtime data"): the command topic's life (`topics.commands`), a replay from the
        /// dead-letter topic (`topics.deadLetter`, the longest of them) and a client's re-send.
        public var commandInboxRetention = PolicyDuration.days(8)
        /// Not in the contract: how long an inbox row of an event is kept: past the event topics'
        /// life (`topics.events`), which a consumer group reset to the earliest offset re-reads.
        public var eventInboxRetention = PolicyDuration.days(32)
        /// Not in the contract: how long an outbox row is kept once the broker confirmed it (the relay
        /// never reads it again; it serves diagnosis only). Unsent rows are never pruned.
        public var sentOutboxRetention = PolicyDuration.days(1)
        /// Not in the contract: how long a dead-letter row is kept. It records a message once per
        /// topic, partition, offset and digest, so it must outlast the longest topic a poison message
        /// can be redelivered from (`topics.events`).
        public var deadLetterRetention = PolicyDuration.days(32)
        /// Not in the contract: time between two runs of the runtime's pruner.
        public var pruneInterval = PolicyDuration.minutes(1)
        /// Not in the contract: rows one pruning statement deletes at most (one short transaction).
        public var pruneBatchSize = 1000
        /// Not in the contract: statements one run makes per table at most, so a run is bounded
        /// (a backlog is worked off over several runs).
        public var pruneBatchesPerRun = 50
    }

    /// Not in the contract: the broker's retention of each kind of topic, set by
    /// `registrar topics create` (`retention.ms`, `segment.ms`). Apache Kafka deletes whole segments
    /// only, once their newest message is older than the retention: a message can live for the
    /// retention plus one segment (plus the broker's 5-minute check), so short topics get short
    /// segments.
    public struct TopicRetention: Codable, Sendable, Equatable {
        /// `<service>.commands`: raw phones, passwords, SMS codes, card and ID numbers.
        public var commands = TopicWindow(retention: .days(1), segment: .hours(1))
        /// `<service>.events`: facts without raw personal numbers (masked phones, hashes); consumers
        /// rebuild read models from them.
        public var events = TopicWindow(retention: .days(30), segment: .days(1))
        /// `registrar.replies`: session and refresh tokens, read by the client within seconds (a
        /// client that missed its reply re-sends the command and gets the kept reply again).
        public var replies = TopicWindow(retention: .hours(1), segment: .minutes(10))
        /// `notifications.sms`: raw phones and codes for the SMS gateway (codes live 5 minutes).
        public var sms = TopicWindow(retention: .days(1), segment: .hours(1))
        /// Not in the contract (issue 18): `notifications.push`: template names and masked values,
        /// for the push gateway, which reads them within seconds.
        public var push = TopicWindow(retention: .days(1), segment: .hours(1))
        /// `registrar.deadletter`: originals of refused messages (anything a client sent): a week to
        /// fix and replay them.
        public var deadLetter = TopicWindow(retention: .days(7), segment: .hours(1))

        /// The broker's default `log.retention.check.interval.ms`: how late a due segment may go.
        public static let brokerCheckInterval = PolicyDuration.minutes(5)
    }

    /// How long a topic keeps a message, and the segment size in time that bounds how long past it.
    public struct TopicWindow: Codable, Sendable, Equatable {
        /// `retention.ms`.
        public var retention: PolicyDuration
        /// `segment.ms`.
        public var segment: PolicyDuration

        /// The longest a message can stay readable: retention, one segment, one broker check.
        public var horizon: PolicyDuration {
            PolicyDuration(
                milliseconds: retention.milliseconds + segment.milliseconds
                    + TopicRetention.brokerCheckInterval.milliseconds)
        }

        /// The topic configuration (`retention.ms`, `segment.ms`) as the admin API takes it.
        public var topicConfig: [String: String] {
            ["retention.ms": "\(retention.milliseconds)", "segment.ms": "\(segment.milliseconds)"]
        }
    }
}

/// A duration written with a unit (`300ms`, `2s`, `5m`, `24h`, `14d`).
public struct PolicyDuration: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Milliseconds.
    public var milliseconds: Int64

    /// Creates a duration.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// Whole days.
    public static func days(_ n: Int64) -> PolicyDuration { PolicyDuration(milliseconds: n * 86_400_000) }
    /// Whole hours.
    public static func hours(_ n: Int64) -> PolicyDuration { PolicyDuration(milliseconds: n * 3_600_000) }
    /// Whole minutes.
    public static func minutes(_ n: Int64) -> PolicyDuration { PolicyDuration(milliseconds: n * 60_000) }
    /// Whole seconds.
    public static func seconds(_ n: Int64) -> PolicyDuration { PolicyDuration(milliseconds: n * 1000) }

    /// As a Swift `Duration`.
    public var duration: Duration { .milliseconds(milliseconds) }
    /// As a `TimeInterval` (seconds).
    public var timeInterval: TimeInterval { Double(milliseconds) / 1000 }

    /// The largest exact unit: `14d`, `90s`, `1500ms`.
    public var description: String {
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] as [(String, Int64)]
        where milliseconds != 0 && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }

    /// Parses `<number><unit>`.
    public init?(text: String) {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (unit, size) in units.sorted(by: { $0.0.count > $1.0.count }) where text.hasSuffix(unit) {
            guard let n = Double(text.dropLast(unit.count)), n >= 0 else { return nil }
            self.init(milliseconds: Int64((n * size).rounded()))
            return
        }
        return nil
    }

    /// Decodes the string form.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = PolicyDuration(text: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a duration like 5m or 14d: \(text)"))
        }
        self = value
    }

    /// Encodes the string form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A policy file that cannot be used.
public struct PolicyError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, naming the key.
    public var reason: String
    /// Logged form.
    public var description: String { "PolicyError: \(reason)" }
}

extension Policy {
    /// The defaults merged with the JSON file at `path` (`nil`: defaults only).
    public static func load(path: String?) throws -> Policy {
        guard let path else { return Policy() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError(reason: "cannot read policy file \(path)")
        }
        return try merged(overrides: data)
    }

    /// The defaults with `overrides` (a JSON object) merged over them.
    public static func merged(overrides: Data) throws -> Policy {
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Policy()))
        let file: Any
        do { file = try JSONSerialization.jsonObject(with: overrides) } catch {
            throw PolicyError(reason: "policy file is not JSON: \(error.localizedDescription)")
        }
        let merged = try merge(file, over: defaults, path: "")
        let policy: Policy
        do {
            policy = try JSONDecoder().decode(Policy.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.dataCorrupted(context) {
            throw PolicyError(
                reason: "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)")
        } catch let DecodingError.typeMismatch(_, context) {
            throw PolicyError(
                reason: "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        }
        // One savepoint per message: more than PostgreSQL's 64 cached subtransactions per backend
        // would slow every other session's snapshots.
        guard (1...64).contains(policy.runtime.consumeBatchSize) else {
            throw PolicyError(reason: "runtime.consumeBatchSize must be between 1 and 64")
        }
        guard policy.runtime.pruneBatchSize > 0, policy.runtime.pruneBatchesPerRun > 0 else {
            throw PolicyError(reason: "runtime.pruneBatchSize and runtime.pruneBatchesPerRun must be positive")
        }
        return policy
    }

    /// The runtime windows that end before a message can come back (a topic's horizon): each is a
    /// reason to log a warning at start. Empty for the defaults (a unit test holds them to it).
    public var retentionShortfalls: [String] {
        var found: [String] = []
        func check(_ window: PolicyDuration, _ name: String, covers horizon: PolicyDuration, of topic: String) {
            if window.milliseconds < horizon.milliseconds {
                found.append("runtime.\(name) (\(window)) is shorter than \(topic)'s horizon (\(horizon))")
            }
        }
        for (topic, window) in [
            ("topics.commands", topics.commands), ("topics.deadLetter", topics.deadLetter),
        ] {
            check(runtime.commandInboxRetention, "commandInboxRetention", covers: window.horizon, of: topic)
        }
        for (topic, window) in [("topics.events", topics.events), ("topics.deadLetter", topics.deadLetter)] {
            check(runtime.eventInboxRetention, "eventInboxRetention", covers: window.horizon, of: topic)
        }
        for (topic, window) in [("topics.commands", topics.commands), ("topics.events", topics.events)] {
            check(runtime.deadLetterRetention, "deadLetterRetention", covers: window.horizon, of: topic)
        }
        return found
    }

    /// The defaults as pretty JSON with sorted keys (the content of `deploy/policy.json`).
    public static func defaultsJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(Policy()), as: UTF8.self) + "\n"
    }

    private static func merge(_ override: Any, over base: Any, path: String) throws -> Any {
        guard let baseObject = base as? [String: Any] else { return override }
        guard let overrideObject = override as? [String: Any] else {
            throw PolicyError(reason: "\(path.isEmpty ? "policy" : path) must be an object")
        }
        // Free-form maps (the step-up table, the capability matrix) may gain keys; sections may not.
        let openMaps: Set<String> = ["risk.stepUp", "binding.capabilities", "gateway.routeLimits"]
        var result = baseObject
        for (key, value) in overrideObject {
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if openMaps.contains(keyPath) {
                result[key] = value
            } else if let existing = baseObject[key] {
                result[key] = try merge(value, over: existing, path: keyPath)
            } else {
                throw PolicyError(reason: "unknown policy key \(keyPath)")
            }
        }
        return result
    }
}
