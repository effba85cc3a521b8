// server_reply.hpp - one NTP request answered: the reply path the server
// front-end's main-loop sockets and every server worker share, with the
// kernel transmit stamps of interleaved replies.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>

#include "algorithm/system_state.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "metrics/histogram.hpp"
#include "server/ntp_server.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::daemon {

// A kernel socket stamp on the daemon's timescale (Timescale::kernel_time).
using TxTimeFn = std::function<std::optional<ntp::NtpInstant>(const io::PacketTimestamps&)>;

// One server thread's interleaved replies still waiting for their kernel
// transmit stamp: the loop's token of each, and what NtpServer::transmitted()
// needs. Bounded: the oldest wait goes when a new one finds it full.
class PendingTxStamps {
  public:
    void add(uint64_t token, const ntp::IpAddress& client, ntp::NtpTimestamp receive_field);
    // The loop's stamp @t: handed to @server (on @to_time's timescale) if it
    // belongs to a waiting reply.
    void stamped(const io::TxTimestamp& t, ntp::NtpServer& server, const TxTimeFn& to_time);
    size_t waiting() const { return waiting_.size(); }

    static constexpr size_t kMaxWaiting = 1024;

  private:
    struct Wait {
        uint64_t token;
        ntp::IpAddress client;
        ntp::NtpTimestamp receive_field;
    };
    std::deque<Wait> waiting_;
};

// One request @d answered by @server with @state (@rx: its receive time,
// @now: the time read just before the reply is built); the reply leaves
// from the request's destination address. @log (may be null: the workers
// do not log) gets a debug line per kiss-o'-death. @latency (may be null;
// the calling thread's own) gets now - rx of every request answered: the
// reply's transmit timestamp is @now. @tx_stamps (may be null: no kernel
// TX stamps on this thread's sockets): an interleaved reply is sent with a
// stamp request and waits there for it.
ntp::ServerDecision answer_request(ntp::NtpServer& server, io::EventLoop& loop,
                                   const io::ReceivedDatagram& d, ntp::NtpInstant rx,
                                   ntp::NtpInstant now, const ntp::SystemState& state,
                                   io::RateLimitedLog* log,
                                   metrics::AtomicHistogram* latency = nullptr,
                                   PendingTxStamps* tx_stamps = nullptr);

}  // namespace nanotime::daemon
