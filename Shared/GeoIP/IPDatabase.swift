import CMaxMindDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What an IP database says about one address.
public struct IPDatabaseRecord: Sendable, Equatable {
    /// ISO 3166-1 alpha-2 country code, `nil` when the database has none for the address.
    public var country: String?
    /// IANA time zone (`location.time_zone`, City databases), `nil` when the database has none.
    public var timeZone: String?
    /// True when the database flags the address as an anonymiser: GeoIP2 Anonymous-IP's
    /// `is_anonymous`, `is_anonymous_vpn`, `is_hosting_provider`, `is_public_proxy`,
    /// `is_residential_proxy`, `is_tor_exit_node`, or a Country/City database's
    /// `traits.is_anonymous_proxy`. `nil` when the database has none of these fields (a plain
    /// country database), so the caller falls back to its own list.
    public var anonymous: Bool?

    /// Creates a record.
    public init(country: String? = nil, timeZone: String? = nil, anonymous: Bool? = nil) {
        self.country = country
        self.timeZone = timeZone
        self.anonymous = anonymous
    }
}

/// An error opening or reading a MaxMind DB file.
public struct IPDatabaseError: Error, CustomStringConvertible, Sendable {
    /// libmaxminddb's status (`MMDB_*_ERROR`).
    public var status: Int32
    /// What was attempted.
    public var reason: String
    /// Logged form (libmaxminddb's text for the status; never an address).
    public var description: String {
        "IPDatabaseError(\(status)): \(reason): \(String(cString: MMDB_strerror(status)))"
    }
}

/// A MaxMind DB (`.mmdb`) file opened with libmaxminddb: DB-IP, Geoacumen, GeoLite2 / GeoIP2
/// Country, City or Anonymous-IP. Lookups only read the memory-mapped file, so one instance is
/// shared by every request.
public final class IPDatabase: @unchecked Sendable {
    // @unchecked: the MMDB_s is written once by MMDB_open and afterwards only read; libmaxminddb
    // documents lookups on an opened database as thread-safe (MMDB_MODE_MMAP).
    private let mmdb: UnsafeMutablePointer<MMDB_s>
    /// `metadata.database_type`, e.g. `DBIP-Country-Lite`.
    public let databaseType: String
    /// `metadata.build_epoch` (seconds since 1970).
    public let buildEpoch: UInt64

    /// Opens the file at `path` (memory-mapped).
    public init(path: String) throws(IPDatabaseError) {
        mmdb = .allocate(capacity: 1)
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), mmdb)
        guard status == MMDB_SUCCESS else {
            // MMDB_open cleans up after itself on failure; only our allocation remains.
            mmdb.deallocate()
            throw IPDatabaseError(status: status, reason: "open \(path)")
        }
        databaseType = mmdb.pointee.metadata.database_type.map { String(cString: $0) } ?? ""
        buildEpoch = mmdb.pointee.metadata.build_epoch
    }

    deinit {
        MMDB_close(mmdb)
        mmdb.deallocate()
    }

    /// The record for `address` (IPv4 or IPv6 text), `nil` when the address is not in the database
    /// or is not an address.
    public func lookup(_ address: String) -> IPDatabaseRecord? {
        var gaiError: Int32 = 0
        var mmdbError: Int32 = 0
        var result = MMDB_lookup_string(mmdb, address, &gaiError, &mmdbError)
        guard gaiError == 0, mmdbError == MMDB_SUCCESS, result.found_entry else { return nil }
        var record = IPDatabaseRecord()
        if let code = string(&result.entry, ["country", "iso_code"]), code.count == 2, code.uppercased() == code {
            record.country = code
        }
        record.timeZone = string(&result.entry, ["location", "time_zone"])
        let flags: [[String]] = [
            ["is_anonymous"], ["is_anonymous_vpn"], ["is_hosting_provider"], ["is_public_proxy"],
            ["is_residential_proxy"], ["is_tor_exit_node"], ["traits", "is_anonymous_proxy"],
            ["traits", "is_anonymous"], ["traits", "is_hosting_provider"],
        ]
        for path in flags {
            if let flag = boolean(&result.entry, path) { record.anonymous = (record.anonymous ?? false) || flag }
        }
        return record
    }

    private func string(_ entry: inout MMDB_entry_s, _ path: [String]) -> String? {
        value(&entry, path) { data in
            guard data.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING), let bytes = data.utf8_string else { return nil }
            // utf8_string is not NUL-terminated: copy exactly data_size bytes.
            let buffer = UnsafeRawBufferPointer(start: bytes, count: Int(data.data_size))
            return String(decoding: buffer, as: UTF8.self)
        }
    }

    private func boolean(_ entry: inout MMDB_entry_s, _ path: [String]) -> Bool? {
        value(&entry, path) { data in data.type == UInt32(MMDB_DATA_TYPE_BOOLEAN) ? data.boolean : nil }
    }

    /// Calls `read` with the entry data at `path`, building the NULL-terminated C path array for
    /// `MMDB_aget_value` (the variadic `MMDB_get_value` cannot be called from Swift).
    private func value<T>(
        _ entry: inout MMDB_entry_s, _ path: [String], _ read: (MMDB_entry_data_s) -> T?
    ) -> T? {
        let cStrings = path.map { strdup($0) }
        defer { for pointer in cStrings { free(pointer) } }
        var pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
        pointers.append(nil)
        var data = MMDB_entry_data_s()
        let status = pointers.withUnsafeBufferPointer { buffer in
            MMDB_aget_value(&entry, &data, buffer.baseAddress)
        }
        guard status == MMDB_SUCCESS, data.has_data else { return nil }
        return read(data)
    }
}
