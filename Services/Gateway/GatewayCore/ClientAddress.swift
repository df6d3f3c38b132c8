#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address as 16 bytes (IPv4 as its IPv4-mapped IPv6 form), parsed with
/// `inet_pton`.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The 16 bytes, network order.
    public let bytes: [UInt8]
    /// True for an IPv4 address.
    public let isIPv4: Bool

    /// Parses the text form of an IPv4 or IPv6 address (no zone, no port, no brackets).
    public init?(_ text: some StringProtocol) {
        let text = String(text)
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let raw = withUnsafeBytes(of: &v4) { Array($0) }
            bytes = [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + raw
            isIPv4 = true
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let raw = withUnsafeBytes(of: &v6) { Array($0) }
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d, how a dual-stack socket reports IPv4 peers)
        // is the IPv4 address.
        isIPv4 = raw[0..<10].allSatisfy { $0 == 0 } && raw[10] == 0xff && raw[11] == 0xff
        bytes = raw
    }

    /// The canonical text form (`inet_ntop`): dotted IPv4 for IPv4 and IPv4-mapped addresses.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        if isIPv4 {
            var v4 = in_addr()
            withUnsafeMutableBytes(of: &v4) { $0.copyBytes(from: bytes[12..<16]) }
            inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count))
        } else {
            var v6 = in6_addr()
            withUnsafeMutableBytes(of: &v6) { $0.copyBytes(from: bytes) }
            inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address range in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`, or one address).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address.
    public let network: IPAddress
    /// Prefix length over the 16-byte form (an IPv4 /24 is 96 + 24).
    public let prefixLength: Int

    /// Parses `address[/length]`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = IPAddress(first) else { return nil }
        let width = address.isIPv4 ? 32 : 128
        let length = parts.count == 2 ? Int(parts[1]) : width
        guard let length, (0...width).contains(length) else { return nil }
        network = address
        prefixLength = (address.isIPv4 ? 96 : 0) + length
    }

    /// True when `address` lies in the range.
    public func contains(_ address: IPAddress) -> Bool {
        var remaining = prefixLength
        for index in 0..<16 where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if network.bytes[index] & mask != address.bytes[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// `network/length` in the address family's own terms.
    public var description: String { "\(network)/\(network.isIPv4 ? prefixLength - 96 : prefixLength)" }

    /// Parses a comma- or space-separated list; returns `nil` naming nothing when one entry is bad.
    public static func list(_ text: String) -> [CIDR]? {
        var found: [CIDR] = []
        for entry in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
            guard let cidr = CIDR(entry) else { return nil }
            found.append(cidr)
        }
        return found
    }
}

/// Which address a request comes from: the socket's peer, or — only when the peer is a trusted proxy
/// — the right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
public enum ClientAddress {
    /// The client address of a request from `peer` carrying the `X-Forwarded-For` values
    /// `forwardedFor` (every header line, in order).
    public static func resolve(peer: IPAddress, forwardedFor: [String], trustedProxies: [CIDR]) -> IPAddress {
        guard trustedProxies.contains(where: { $0.contains(peer) }) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map {
            $0.trimmingCharacters(in: " \t")
        }
        // Walk from the nearest hop back: each trusted proxy vouches for the hop before it; the
        // first address not a trusted proxy is the client. A malformed hop ends the walk there.
        var client = peer
        for hop in hops.reversed() {
            guard let address = IPAddress(hop) else { break }
            client = address
            if !trustedProxies.contains(where: { $0.contains(address) }) { break }
        }
        return client
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        return String(self.drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
