import Foundation
import Logging

/// One access-log line: route, outcome and timing, never a token, a body or a full phone number.
/// The client address is cut to its network (IPv4 /24, IPv6 /48); a phone appears masked.
struct AccessLogLine {
    var method: String
    var path = ""
    var type: String?
    var client: String?
    var commandID: String?
    var code: String?
    var phone: String?
    var note: String?
    var status = 0
    var durationMs = 0.0

    init(method: String) { self.method = method }

    /// `203.0.113.0/24` for `203.0.113.7`, `2001:db8:1::/48` for an IPv6 address.
    static func masked(_ address: IPAddress) -> String {
        var bytes = address.bytes
        let keep = address.isIPv4 ? 15 : 6
        for index in keep..<16 { bytes[index] = 0 }
        var text = ""
        if address.isIPv4 {
            text = bytes[12..<16].map(String.init).joined(separator: ".")
            return text.split(separator: ".").prefix(3).joined(separator: ".") + ".0/24"
        }
        for group in stride(from: 0, to: 6, by: 2) {
            text += String(UInt16(bytes[group]) << 8 | UInt16(bytes[group + 1]), radix: 16) + ":"
        }
        return text + ":/48"
    }

    func write(to logger: Logger) {
        var metadata: Logger.Metadata = [
            "http.method": "\(method)", "http.route": "\(path)", "http.status": "\(status)",
            "http.duration_ms": "\(String(format: "%.1f", durationMs))",
        ]
        if let type { metadata["command.type"] = "\(type)" }
        if let commandID { metadata["command.id"] = "\(commandID)" }
        if let code { metadata["reply.code"] = "\(code)" }
        if let client { metadata["client.network"] = "\(client)" }
        if let phone { metadata["phone"] = "\(phone)" }
        if let note { metadata["note"] = "\(note)" }
        logger.info("request", metadata: metadata)
    }
}
