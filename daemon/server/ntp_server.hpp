// ntp_server.hpp - the NTP server (mode 3 request -> mode 4 reply).
//
// Sans-IO: handle() gets a datagram, the client's address, the receive
// timestamp and the time to put in the transmit field, plus the current
// system state, and returns the reply bytes (or nothing). Order of checks,
// cheapest first: access list (closed unless configured), parse and validate
// (RFC 7822), mode, MAC, NTS, rate limit. Replies are never longer than the
// request, so the server cannot amplify: 48 octets, or for an NTS request
// (RFC 8915, when enable_nts() gave the server an nts::NtsServer) the header
// followed by the NTS fields. An NTS request gets an authenticated reply, an
// NTSN kiss-o'-death, or nothing: never an unauthenticated answer, so a rate
// limit that would send it a RATE kiss-o'-death drops it instead. Extension
// fields the server does not know are ignored (RFC 7822 §3). The parse is
// allocation-free.
//
// Interleaved basic mode (interleaved_table.hpp): a request whose origin
// field is the receive field of one of our earlier replies to that client
// (receive fields carry a set low bit, transmit fields a clear one, as
// chrony's do) is answered with the earlier reply's transmit time, the
// kernel's stamp when the caller handed one to transmitted(). Such replies
// ask the caller for their kernel transmit stamp (wants_tx_stamp); replies
// to basic-mode requests never do.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <vector>

#include "algorithm/system_state.hpp"
#include "nts/nts_server.hpp"
#include "packet/packet.hpp"
#include "server/access_list.hpp"
#include "server/interleaved_table.hpp"
#include "server/rate_limiter.hpp"
#include "server/server_counters.hpp"

namespace nanotime::ntp {

// The server's whole configuration ([server] in nanotimed.toml). NtpServer
// reads access and rate_limit; the daemon opens the sockets and threads.
struct ServerConfig {
    std::vector<SocketAddress> listen;  // empty: the server is off
    // Server threads, each with its own event loop and an SO_REUSEPORT
    // socket per listen address (1: the main loop serves, no threads).
    int workers = 1;
    AccessList access;                          // empty: answer nobody
    std::optional<RateLimitConfig> rate_limit;  // nothing: no limiting
    // Answer interleaved requests; the table's size budget (split across
    // workers like the rate limiter's).
    bool interleaved = true;
    size_t interleaved_memory = size_t{256} * 1024;

    bool enabled() const { return !listen.empty(); }
    bool uses_privileged_port() const;  // any listen port < 1024
};

enum class ServerDecision : uint8_t { Reply, KissOfDeath, Drop };

// The largest reply: an NTS reply is at most as long as its request, which
// fits the daemon's receive buffer.
inline constexpr size_t kMaxReplyLength = nts::kMaxNtsPacket;

struct ServerResponse {
    ServerDecision decision = ServerDecision::Drop;
    size_t length = 0;  // octets of packet in use
    // Valid unless Drop; left uninitialised: only the first length octets
    // are ever written or read (no 2 KiB clear per request).
    std::array<uint8_t, kMaxReplyLength> packet;
    // Interleaved mode: the reply carries an earlier reply's transmit time,
    // taken by transmit_source.
    bool interleaved = false;
    StampSource transmit_source = StampSource::Daemon;
    // The caller should have the kernel stamp this reply's transmission and
    // hand the stamp to NtpServer::transmitted() with receive_field.
    bool wants_tx_stamp = false;
    NtpTimestamp receive_field;  // the reply's receive field, as sent

    std::span<const uint8_t> bytes() const {
        return decision == ServerDecision::Drop ? std::span<const uint8_t>()
                                                : std::span<const uint8_t>(packet).first(length);
    }
};

class NtpServer {
  public:
    NtpServer(ServerConfig config, RandomSource& random);

    // Answers NTS requests with @nts (one per server thread, outliving this
    // server); without it NTS fields are unknown fields, and ignored.
    void enable_nts(nts::NtsServer& nts) { nts_ = &nts; }

    // @receive_time: local clock when the request arrived (RX timestamp);
    // @transmit_time: the best estimate of when the reply will leave.
    ServerResponse handle(std::span<const uint8_t> request, const SocketAddress& client,
                          NtpInstant receive_time, NtpInstant transmit_time,
                          const SystemState& system);

    // The kernel's (@source Kernel) or NIC's transmit stamp of the reply
    // to @client whose receive field was @receive_field (a reply that
    // wanted one), on the same timescale as transmit_time.
    void transmitted(const IpAddress& client, NtpTimestamp receive_field, NtpInstant transmit,
                     StampSource source);

    const ServerCounters& counters() const { return counters_; }
    const InterleavedTable* interleaved_table() const {
        return interleaved_ ? &*interleaved_ : nullptr;
    }
    const RateLimiter* rate_limiter() const { return rate_limiter_ ? &*rate_limiter_ : nullptr; }
    // chronyc clients -r: zero the per-client counters (the server's own
    // counters are monotonic and stay).
    void reset_client_counters() {
        if (rate_limiter_) rate_limiter_->reset_counters();
    }

  private:
    ServerConfig config_;
    std::optional<RateLimiter> rate_limiter_;
    std::optional<InterleavedTable> interleaved_;
    ServerCounters counters_;
    nts::NtsServer* nts_ = nullptr;
};

}  // namespace nanotime::ntp
