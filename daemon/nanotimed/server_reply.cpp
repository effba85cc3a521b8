// server_reply.cpp - one NTP request answered, and the kernel transmit
// stamps of interleaved replies routed back to the server (see server_reply.hpp).
#include "nanotimed/server_reply.hpp"

#include <algorithm>

namespace nanotime::daemon {

void PendingTxStamps::add(uint64_t token, const ntp::IpAddress& client,
                          ntp::NtpTimestamp receive_field) {
    if (waiting_.size() >= kMaxWaiting) waiting_.pop_front();
    waiting_.push_back(Wait{token, client, receive_field});
}

void PendingTxStamps::stamped(const io::TxTimestamp& t, ntp::NtpServer& server,
                              const TxTimeFn& to_time) {
    // Normally the front one; with several sockets on a loop the stamps of
    // one may overtake another's. A wait whose stamp never comes is pushed
    // out by the bound.
    const auto it = std::find_if(waiting_.begin(), waiting_.end(),
                                 [&t](const Wait& w) { return w.token == t.token; });
    if (it == waiting_.end()) return;
    const Wait w = *it;
    waiting_.erase(it);
    if (const auto when = to_time(t.tx))
        server.transmitted(w.client, w.receive_field, *when, ntp::StampSource::Kernel);
}

ntp::ServerDecision answer_request(ntp::NtpServer& server, io::EventLoop& loop,
                                   const io::ReceivedDatagram& d, ntp::NtpInstant rx,
                                   ntp::NtpInstant now, const ntp::SystemState& state,
                                   io::RateLimitedLog* log, metrics::AtomicHistogram* latency,
                                   PendingTxStamps* tx_stamps) {
    const ntp::ServerResponse r = server.handle(d.payload, d.peer, rx, now, state);
    if (r.decision == ntp::ServerDecision::Drop) return r.decision;
    // The message is built only when debug is on: building it costs two heap
    // allocations per kiss-o'-death, and a flood of them is when it matters.
    if (log && r.decision == ntp::ServerDecision::KissOfDeath &&
        log->logger().should_log(spdlog::level::debug)) {
        log->debug(io::LogClass::RateLimited, "RATE kiss-o'-death to " + d.peer.ip.to_string());
    }
    const bool stamp = tx_stamps != nullptr && r.wants_tx_stamp;
    const uint64_t token =
        loop.send_udp(d.socket, d.peer, r.bytes(), d.local ? &*d.local : nullptr, stamp);
    if (stamp && token != 0) tx_stamps->add(token, d.peer.ip, r.receive_field);
    if (latency) latency->observe(ntp::to_seconds(now - rx));
    return r.decision;
}

}  // namespace nanotime::daemon
