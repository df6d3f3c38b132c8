import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Platform
import ServiceLifecycle

/// The gateway's HTTP/1.1 server: SwiftNIO's HTTP codec (keep-alive, pipelining), one task per
/// connection answering its requests in order, a body limit (413), a deadline for reading a whole
/// request and an idle timeout for kept-alive connections.
public struct HTTPServer: Service {
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private let gateway: Gateway
    private let host: String
    private let port: Int
    private let readTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let logger: Logger
    private let onBound: @Sendable (Int) -> Void

    /// A server for `gateway` on `host:port`; `onBound` gets the bound port once listening.
    public init(
        gateway: Gateway, host: String, port: Int, policy: Policy, logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.gateway = gateway
        self.host = host
        self.port = port
        readTimeout = .milliseconds(policy.gateway.requestReadTimeout.milliseconds)
        idleTimeout = .milliseconds(policy.gateway.idleTimeout.milliseconds)
        self.logger = logger
        self.onBound = onBound
    }

    /// Listens until graceful shutdown, then stops accepting and lets open requests finish.
    public func run() async throws {
        let readTimeout = self.readTimeout
        let idleTimeout = self.idleTimeout
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(RequestDeadlineHandler(timeout: readTimeout))
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        let bound = server.channel.localAddress?.port ?? port
        logger.info("listening", metadata: ["http.host": "\(host)", "http.port": "\(bound)"])
        onBound(bound)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: Connection) async {
        guard let text = connection.channel.remoteAddress?.ipAddress, let peer = IPAddress(text) else {
            try? await connection.channel.close()
            return
        }
        let limit = gateway.maxBodyBytes
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body = []
                        let declared = requestHead.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
                        tooLarge = declared > limit
                        if tooLarge {
                            // Refuse at once without reading the body; the connection closes.
                            let refusal = Gateway.refusal(
                                status: 413, code: "PAYLOAD_TOO_LARGE",
                                message: "the body is larger than \(limit) bytes")
                            try await Self.write(refusal, version: requestHead.version, keepAlive: false, to: outbound)
                            return
                        }
                        if requestHead.headers.first(name: "expect")?.lowercased() == "100-continue" {
                            try await outbound.write(
                                .head(HTTPResponseHead(version: requestHead.version, status: .continue)))
                        }
                    case .body(let buffer):
                        if tooLarge { continue }
                        if body.count + buffer.readableBytes > limit {
                            tooLarge = true
                            body = []
                        } else {
                            body.append(contentsOf: buffer.readableBytesView)
                        }
                    case .end:
                        guard let requestHead = head else { continue }
                        head = nil
                        if tooLarge {
                            let refusal = Gateway.refusal(
                                status: 413, code: "PAYLOAD_TOO_LARGE",
                                message: "the body is larger than \(limit) bytes")
                            try await Self.write(refusal, version: requestHead.version, keepAlive: false, to: outbound)
                            return
                        }
                        let request = GatewayRequest(
                            method: requestHead.method.rawValue, target: requestHead.uri,
                            headers: requestHead.headers.map { ($0.name, $0.value) }, body: body, peer: peer)
                        body = []
                        let response = await gateway.handle(request)
                        try await Self.write(
                            response, version: requestHead.version, keepAlive: requestHead.isKeepAlive, to: outbound)
                        if !requestHead.isKeepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(type(of: error))"])
        }
    }

    private static func write(
        _ response: GatewayResponse, version: HTTPVersion, keepAlive: Bool,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        try await outbound.write(.head(HTTPResponseHead(version: version, status: status, headers: headers)))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
        try await outbound.write(.end(nil))
    }
}

/// Closes a connection whose request is not read whole within `timeout` of its head (a slow
/// client holding a connection), or that stays idle past the `IdleStateHandler`'s timeout.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) { bound.value.close(promise: nil) }
        case .end:
            deadline?.cancel()
            deadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }
}
