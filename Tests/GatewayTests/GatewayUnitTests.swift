import Foundation
import GeoIP
import Testing

@testable import GatewayCore

@Suite struct GatewayUnitTests {
    @Test func statusFollowsTheReply() {
        #expect(StatusMapping.status(replyStatus: "ok", code: "OK") == 200)
        #expect(StatusMapping.status(replyStatus: "pending_review", code: "OK") == 202)
        #expect(StatusMapping.status(replyStatus: "rejected", code: "UNAUTHENTICATED") == 401)
        #expect(StatusMapping.status(replyStatus: "rejected", code: "FORBIDDEN") == 403)
        #expect(StatusMapping.status(replyStatus: "rejected", code: "RATE_LIMITED") == 429)
        #expect(StatusMapping.status(replyStatus: "rejected", code: "MALFORMED") == 400)
        #expect(StatusMapping.status(replyStatus: "rejected", code: "PHONE_IN_USE") == 409)
        #expect(StatusMapping.status(replyStatus: "rejected", code: "PASSWORD_TOO_WEAK") == 422)
        #expect(StatusMapping.status(replyStatus: "rejected", code: "SOMETHING_NEW") == 422)
    }

    @Test func cidrsMatchTheirRangesOnly() throws {
        let v4 = try #require(CIDR("198.51.100.0/24"))
        #expect(v4.contains(try #require(IPAddress("198.51.100.77"))))
        #expect(!v4.contains(try #require(IPAddress("198.51.101.1"))))
        // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 addresses.
        #expect(v4.contains(try #require(IPAddress("::ffff:198.51.100.3"))))
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:1::5"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(CIDR("10.0.0.0/33") == nil && CIDR("nonsense") == nil)
        #expect(CIDR.list("127.0.0.1/32, ::1/128")?.count == 2)
        #expect(CIDR.list("127.0.0.1/32,bad") == nil)
    }

    @Test func forwardedForIsBelievedOnlyFromTrustedProxies() throws {
        let proxies = try #require(CIDR.list("10.0.0.0/8"))
        let outsider = try #require(IPAddress("203.0.113.9"))
        let proxy = try #require(IPAddress("10.1.2.3"))
        // An untrusted peer: its X-Forwarded-For is ignored.
        #expect(ClientAddress.resolve(peer: outsider, forwardedFor: ["8.8.8.8"], trustedProxies: proxies) == outsider)
        // A trusted peer: the right-most address that is not a trusted proxy is the client; what a
        // client prepended (the left-most entries) is not believed.
        let client = ClientAddress.resolve(
            peer: proxy, forwardedFor: ["1.2.3.4, 81.2.69.160", "10.9.9.9"], trustedProxies: proxies)
        #expect(client.description == "81.2.69.160")
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: [], trustedProxies: proxies) == proxy)
        #expect(ClientAddress.resolve(peer: proxy, forwardedFor: ["junk"], trustedProxies: proxies) == proxy)
    }

    @Test func rateLimitsCountPerKeyAndWindow() {
        let limiter = RateLimiter(window: .seconds(60), maxKeys: 10)
        let now = ContinuousClock.now
        for _ in 0..<3 { #expect(limiter.take([(key: "a", limit: 3)], now: now) == .allowed) }
        guard case .limited(let seconds) = limiter.take([(key: "a", limit: 3)], now: now + .seconds(10)) else {
            Issue.record("the fourth request in the window passed")
            return
        }
        #expect(seconds == 50)
        #expect(limiter.take([(key: "b", limit: 3)], now: now) == .allowed)
        #expect(limiter.take([(key: "a", limit: 3)], now: now + .seconds(61)) == .allowed)
    }

    @Test func theCountryDatabaseIsReadWithLibmaxminddb() throws {
        guard let path = ProcessInfo.processInfo.environment["REGISTRAR_GEOIP_DB"] else { return }
        let database = try IPDatabase(path: path)
        #expect(database.buildEpoch > 1_700_000_000)
        #expect(database.lookup("8.8.8.8")?.country == "US")
        #expect(database.lookup("81.2.69.160")?.country == "GB")
        #expect(database.lookup("not an address") == nil)
        let facts = ClientFactsResolver(database: database, proxyRanges: CIDR.list("198.51.100.0/24")!)
        let us = facts.facts(for: IPAddress("8.8.8.8")!)
        #expect(us.country == "US" && us.timezone == "America/New_York" && !us.proxy)
        #expect(facts.facts(for: IPAddress("198.51.100.7")!).proxy)
        #expect(facts.facts(for: IPAddress("127.0.0.1")!).country == "ZZ")
    }

    @Test func everyRouteIsUniqueAndOperatorRoutesTakeTheOperatorToken() {
        let keys = Routes.all.map { "\($0.method) \($0.path)" }
        #expect(Set(keys).count == keys.count)
        for route in Routes.all {
            #expect(route.path.hasPrefix("/ops/") == (route.auth == .operator), "\(route.path)")
            #expect(route.method == "GET" || route.query.isEmpty)
        }
    }
}

@Suite struct GatewayBodyTests {
    @Test func unpairedSurrogateEscapesAreRefused() {
        #expect(Gateway.surrogatesPaired(Array(#"{"a":"\ud83d\ude00 ok \\ud819"}"#.utf8)))
        #expect(!Gateway.surrogatesPaired(Array(#"{"a":"\ud819x"}"#.utf8)))
        #expect(!Gateway.surrogatesPaired(Array(#"{"a":"\udc10"}"#.utf8)))
        #expect(Gateway.surrogatesPaired(Array(#"{"a":"\u00e9"}"#.utf8)))
        #expect(!Gateway.surrogatesPaired(Array(#"{"a":"x\u0000"}"#.utf8)))
    }
}
