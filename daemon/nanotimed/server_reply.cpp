// server_reply.cpp - one NTP request answered (see server_reply.hpp).
#include "nanotimed/server_reply.hpp"

namespace nanotime::daemon {

ntp::ServerDecision answer_request(ntp::NtpServer& server, io::EventLoop& loop,
                                   const io::ReceivedDatagram& d, ntp::NtpInstant rx,
                                   ntp::NtpInstant now, const ntp::SystemState& state,
                                   io::RateLimitedLog* log, metrics::AtomicHistogram* latency) {
    const ntp::ServerResponse r = server.handle(d.payload, d.peer, rx, now, state);
    if (r.decision == ntp::ServerDecision::Drop) return r.decision;
    // The message is built only when debug is on: building it costs two heap
    // allocations per kiss-o'-death, and a flood of them is when it matters.
    if (log && r.decision == ntp::ServerDecision::KissOfDeath &&
        log->logger().should_log(spdlog::level::debug)) {
        log->debug(io::LogClass::RateLimited, "RATE kiss-o'-death to " + d.peer.ip.to_string());
    }
    loop.send_udp(d.socket, d.peer, r.bytes(), d.local ? &*d.local : nullptr);
    if (latency) latency->observe(ntp::to_seconds(now - rx));
    return r.decision;
}

}  // namespace nanotime::daemon
