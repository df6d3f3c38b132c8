import GeoIP
import Messaging

/// The network facts the gateway stamps into `data.ip` (the contract's `ip` value): the address it
/// saw, and country, time zone and proxy flag from the IP database and the configured lists.
/// Whatever the client wrote into `ip` is replaced.
public struct ClientFacts: Sendable, Equatable {
    /// The client address (text).
    public var address: String
    /// True for an anonymiser: the database's flags where it has them, else the proxy list.
    public var proxy: Bool
    /// ISO country code; `ZZ` (unknown) when the database does not place the address.
    public var country: String
    /// IANA time zone: the database's, else the country's main zone, else `UTC`.
    public var timezone: String

    /// The contract's `ip` object.
    public var json: JSONValue {
        .object([
            "address": .string(address), "proxy": .bool(proxy), "country": .string(country),
            "timezone": .string(timezone),
        ])
    }
}

/// Looks client addresses up: the IP database (optional) and the configured proxy ranges.
public struct ClientFactsResolver: Sendable {
    /// The database, `nil` when none is configured (every address is then `ZZ`).
    public let database: IPDatabase?
    /// Ranges flagged as proxies when the database has no anonymiser flags for an address.
    public let proxyRanges: [CIDR]

    /// Creates a resolver.
    public init(database: IPDatabase?, proxyRanges: [CIDR]) {
        self.database = database
        self.proxyRanges = proxyRanges
    }

    /// The facts for `address`.
    public func facts(for address: IPAddress) -> ClientFacts {
        let text = address.description
        let record = database?.lookup(text)
        let country = record?.country ?? "ZZ"
        let listed = proxyRanges.contains { $0.contains(address) }
        return ClientFacts(
            address: text, proxy: record?.anonymous.map { $0 || listed } ?? listed, country: country,
            timezone: record?.timeZone ?? CountryTimeZones.main[country] ?? "UTC")
    }
}

/// A country database gives no time zone: each country's most populous zone stands in (the risk
/// engine's `late_night` uses it). Countries spanning several zones get their most populous one.
public enum CountryTimeZones {
    /// Country code → IANA zone.
    public static let main: [String: String] = [
        "CN": "Asia/Shanghai", "HK": "Asia/Hong_Kong", "MO": "Asia/Macau", "TW": "Asia/Taipei",
        "JP": "Asia/Tokyo", "KR": "Asia/Seoul", "SG": "Asia/Singapore", "MY": "Asia/Kuala_Lumpur",
        "TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh", "PH": "Asia/Manila", "ID": "Asia/Jakarta",
        "IN": "Asia/Kolkata", "PK": "Asia/Karachi", "BD": "Asia/Dhaka", "AE": "Asia/Dubai",
        "SA": "Asia/Riyadh", "IL": "Asia/Jerusalem", "TR": "Europe/Istanbul", "RU": "Europe/Moscow",
        "UA": "Europe/Kyiv", "PL": "Europe/Warsaw", "DE": "Europe/Berlin", "FR": "Europe/Paris",
        "GB": "Europe/London", "IE": "Europe/Dublin", "NL": "Europe/Amsterdam", "BE": "Europe/Brussels",
        "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "IT": "Europe/Rome", "CH": "Europe/Zurich",
        "AT": "Europe/Vienna", "SE": "Europe/Stockholm", "NO": "Europe/Oslo", "DK": "Europe/Copenhagen",
        "FI": "Europe/Helsinki", "CZ": "Europe/Prague", "GR": "Europe/Athens", "RO": "Europe/Bucharest",
        "US": "America/New_York", "CA": "America/Toronto", "MX": "America/Mexico_City",
        "BR": "America/Sao_Paulo", "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago",
        "CO": "America/Bogota", "PE": "America/Lima", "AU": "Australia/Sydney", "NZ": "Pacific/Auckland",
        "ZA": "Africa/Johannesburg", "EG": "Africa/Cairo", "NG": "Africa/Lagos", "KE": "Africa/Nairobi",
    ]
}
