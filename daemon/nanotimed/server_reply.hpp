// server_reply.hpp - one NTP request answered: the reply path the server
// front-end's main-loop sockets and every server worker share.
#pragma once

#include "algorithm/system_state.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "metrics/histogram.hpp"
#include "server/ntp_server.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::daemon {

// One request @d answered by @server with @state (@rx: its receive time,
// @now: the time read just before the reply is built); the reply leaves
// from the request's destination address. @log (may be null: the workers
// do not log) gets a debug line per kiss-o'-death. @latency (may be null;
// the calling thread's own) gets now - rx of every request answered: the
// reply's transmit timestamp is @now.
ntp::ServerDecision answer_request(ntp::NtpServer& server, io::EventLoop& loop,
                                   const io::ReceivedDatagram& d, ntp::NtpInstant rx,
                                   ntp::NtpInstant now, const ntp::SystemState& state,
                                   io::RateLimitedLog* log,
                                   metrics::AtomicHistogram* latency = nullptr);

}  // namespace nanotime::daemon
