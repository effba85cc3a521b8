// ntp_source.hpp - one client association with a server (RFC 5905 §9, §13).
//
// Sans-IO: fed with timer expiries and reply packets (with their receive
// timestamps), it returns SourceActions. Time comes in as NtpInstant values
// of the local clock; randomness from the caller's RandomSource.
//
// Each request carries a random 64-bit transmit timestamp (the "cookie",
// draft-ietf-ntp-data-minimization) rather than our clock, and a random
// request ID and source port. The real send time is kept locally as t1. A
// reply is accepted only if it answers the one outstanding request: same
// request ID and origin timestamp equal to the cookie (RFC 5905 TEST2), so
// an off-path attacker must guess 64+ bits, and duplicates or late replies
// are dropped (TEST1). Then:
//   kiss-o'-death  RATE: raise minpoll; DENY/RSTR: demobilize; others ignored
//   TEST3          zero receive/transmit timestamps: invalid
//   TEST6          leap alarm / stratum >= 16: reachable but no sample
//   TEST7          root delay/2 + root dispersion >= MAXDISP, or a reference
//                  time after the transmit time: no sample
// (TEST4/5/8/9, access and authentication, belong to NTS; TEST10-13 are the
// system's fitness tests, see algorithm/system_process.hpp.)
#pragma once

#include <optional>
#include <span>

#include "algorithm/clock_filter.hpp"
#include "algorithm/source_snapshot.hpp"
#include "discipline/correction_ledger.hpp"
#include "discipline/source_estimator.hpp"
#include "nts/nts_client.hpp"
#include "packet/packet.hpp"
#include "source/poll_controller.hpp"
#include "source/reachability.hpp"
#include "source/selectable_source.hpp"
#include "source/source_action.hpp"
#include "time/stamp_source.hpp"
#include "util/random.hpp"

namespace nanotime::ntp {

struct SourceConfig {
    SocketAddress address;
    int8_t minpoll = 6;            // log2 s
    int8_t maxpoll = 10;           // log2 s
    bool iburst = true;            // start with a burst of requests 2 s apart
    int8_t local_precision = -20;  // log2 s of the local clock reading
    // Interleaved client/server mode (RFC 9769): ask the server for the
    // transmit timestamp it took after sending its previous reply (kernel or
    // hardware) instead of the estimate it writes before sending.
    bool xleave = false;
    // NTS (RFC 8915): the NTS-KE port of address; 0: no NTS. With NTS every
    // request carries a cookie and an authenticator and only authenticated
    // replies count.
    uint16_t nts_ke_port = 0;
    // Never a falseticker (system_process.hpp, chrony's trust).
    bool trust = false;

    friend bool operator==(const SourceConfig&, const SourceConfig&) = default;
};

// How the newest sample was measured (nanotimectl sources): in interleaved
// mode or not, and where its t1 (transmit) and t4 (receive) came from.
struct ExchangeKind {
    bool interleaved = false;
    StampSource transmit = StampSource::Daemon;
    StampSource receive = StampSource::Daemon;
};

// Why replies were not used; monotonic counters for monitoring.
struct SourceCounters {
    uint64_t requests_sent = 0;
    uint64_t replies_accepted = 0;    // produced a sample
    uint64_t malformed = 0;           // failed to parse
    uint64_t wrong_mode = 0;          // not a server (mode 4) reply
    uint64_t duplicate = 0;           // TEST1
    uint64_t bogus = 0;               // TEST2: no matching outstanding request
    uint64_t invalid_timestamps = 0;  // TEST3
    uint64_t unsynchronized = 0;      // TEST6
    uint64_t bad_header = 0;          // TEST7
    uint64_t kiss_rate = 0;
    uint64_t kiss_deny = 0;  // DENY or RSTR
    uint64_t kiss_other = 0;
    uint64_t timeouts = 0;              // polls that got no reply
    uint64_t kernel_tx_timestamps = 0;  // t1 taken from the kernel's TX timestamp
    uint64_t interleaved = 0;           // samples from interleaved replies (xleave)
    uint64_t across_step = 0;           // replies to a request sent before a clock step
    uint64_t nts_rejected = 0;          // NTS: replies that failed the NTS checks
    uint64_t nts_naks = 0;              // NTS: NTSN kiss-o'-death for our request
    uint64_t key_exchanges = 0;         // NTS: NTS-KE asked for
};

// The last exchange that gave a sample, as measured (nanotimectl ntpdata,
// chronyc's ntpdata): the reply's header and the four timestamps the offset
// and delay came from. Interleaved: t1..t4 are the previous exchange's (its
// t3 came with this reply).
struct LastExchange {
    NtpHeader reply;
    NtpInstant t1;    // request sent, local clock
    NtpTimestamp t2;  // request received, server clock
    NtpTimestamp t3;  // reply sent, server clock
    NtpInstant t4;    // reply received, local clock
    OnWireSample sample;
    ExchangeKind kind;  // interleaved or not; where t1 and t4 came from
};

// NTS: consecutive unanswered polls after which the source asks for a new
// NTS-KE (the server may have lost its keys, or moved).
inline constexpr unsigned kNtsRekeyPolls = 4;

inline constexpr unsigned kBurstRequests = 8;               // iburst: requests at start
inline constexpr Nanoseconds kBurstSpacing{2'000'000'000};  // 2 s between them
inline constexpr size_t kBurstEnoughSamples = 4;            // samples before the burst may end
// The burst goes on (up to kBurstRequests) until the source's frequency is
// known to this (s/s): 0.5 ppm leaves 32 us of drift by the first 64 s poll.
inline constexpr double kBurstFrequencySd = 0.5e-6;
// nanotimectl burst (chronyc's burst): this many requests kBurstSpacing apart.
inline constexpr unsigned kManualBurstRequests = 4;
inline constexpr unsigned kUnreachablePolls = 8;  // one full reach register
inline constexpr unsigned kStartupRequests = 12;  // startup ends after these at most
// A kernel TX timestamp later than this after the request was prepared is not
// believed (the loop stalled, or the stamp belongs to something else).
inline constexpr Nanoseconds kMaxTransmitLag{1'000'000'000};

class NtpSource final : public SelectableSource {
  public:
    // @ledger (may be null: no correction is ever applied) maps the local
    // clock to the oscillator's timescale for the estimator; it must outlive
    // the source.
    NtpSource(SourceId id, SourceConfig config, const CorrectionLedger* ledger = nullptr);

    // Arms the first poll after a short random delay (spreads sources).
    SourceActions start(RandomSource& random);
    SourceActions handle_timer(NtpInstant now, RandomSource& random);
    // @receive_time: local clock when the reply arrived (kernel RX timestamp;
    // @receive_source says whether it was one).
    SourceActions handle_packet(std::span<const uint8_t> bytes, uint64_t request_id,
                                NtpInstant receive_time,
                                StampSource receive_source = StampSource::Kernel);
    // The kernel's transmit timestamp of request @request_id (SO_TIMESTAMPING
    // from the error queue): replaces t1, which until then is the time the
    // request was prepared. Accepted only for the outstanding request and
    // only within kMaxTransmitLag after that time; returns whether it was used.
    bool handle_transmit_timestamp(uint64_t request_id, NtpInstant sent);
    // The local clock was stepped by something else: every stored sample is
    // wrong now.
    SourceActions reset_after_clock_step();
    // The daemon stepped the clock by @amount_s (s): the filter's offsets
    // move with it; the estimator's raw samples need nothing (see the ledger).
    // An interleaved exchange in progress is dropped: its t1 and t4 are on
    // the old timescale. So is the reply to a request in flight: its t1 was
    // taken before the step and its t4 will be taken after, and its offset
    // would be off by the step (and could step the clock back).
    void apply_step(double amount_s) override {
        filter_.apply_step(amount_s);
        previous_.reset();
        if (outstanding_) outstanding_->across_step = true;
    }
    // Forgets every sample and starts again as at start-up (recovery).
    void restart_estimates() override;

    // nanotimectl burst: @requests polls kBurstSpacing apart, the first now,
    // then the regular poll again (or nothing, offline). The burst's samples
    // do not move the poll.
    SourceActions start_burst(unsigned requests);
    // nanotimectl offline: no more polls (a reply in flight still counts).
    // online: polls again, the first within a second.
    SourceActions set_online(bool online, RandomSource& random);
    // nanotimectl minpoll/maxpoll: kMinPoll <= @minpoll <= @maxpoll <=
    // kMaxPoll, else false and nothing changes. Takes effect at the next poll.
    bool set_poll_limits(int8_t minpoll, int8_t maxpoll);
    bool online() const { return online_; }
    bool in_burst() const { return burst_remaining_ > 0 || manual_burst_remaining_ > 0; }
    int8_t minpoll() const { return poll_.configured_minpoll(); }
    int8_t maxpoll() const { return poll_.maxpoll(); }

    // NTS: the outcome of the NTS-KE the source asked for: its keys and
    // cookies, and where the KE server said NTP goes. Polls at once.
    SourceActions set_nts(nts::NtsClient client, SocketAddress ntp_server);
    // NTS: the NTS-KE failed; the next poll asks again.
    void nts_failed() { ke_pending_ = false; }
    bool uses_nts() const { return config_.nts_ke_port != 0; }
    // NTS: keys in hand (a KE succeeded and no NTSN since).
    bool nts_ready() const { return nts_.has_value() && !nts_->needs_key_exchange(); }
    size_t nts_cookies() const { return nts_ ? nts_->jar().size() : 0; }
    // The AEAD the last NTS-KE agreed (IANA id), 0 before one.
    uint16_t nts_aead() const { return nts_ ? nts_->aead() : 0; }

    SourceId id() const override { return id_; }
    const SourceConfig& config() const { return config_; }
    SourceSnapshot snapshot() const override;
    const SourceCounters& counters() const { return counters_; }
    int8_t poll() const override { return poll_.poll(); }
    uint8_t reach() const override { return reach_.value(); }
    bool demobilized() const override { return demobilized_; }
    std::optional<uint64_t> outstanding_request() const;
    // The last exchange that gave a sample; nothing before the first.
    const std::optional<LastExchange>& last_exchange() const { return last_exchange_; }
    const ClockFilter& filter() const { return filter_; }
    const SourceEstimator& estimator() const override { return estimator_; }
    // Samples accepted so far (a new one since the last look means news).
    uint64_t samples_accepted() const override { return counters_.replies_accepted; }

  private:
    struct Outstanding {
        uint64_t request_id;
        NtpTimestamp cookie;  // our random transmit timestamp, echoed as origin
        NtpInstant sent;      // t1, local clock
        NtpInstant prepared;  // when handle_timer built the request
        // Interleaved request: the receive field we sent (t4 of the previous
        // exchange), which an interleaved reply echoes as its origin.
        std::optional<NtpTimestamp> interleaved_origin;
        // The daemon stepped the clock while it was out: its t1 is on the
        // old timescale and its t4 will be on the new one.
        bool across_step = false;
        StampSource sent_source = StampSource::Daemon;  // Kernel once its TX stamp came
    };
    // The last answered exchange, for interleaved mode: its t3 arrives with
    // the next reply.
    struct PreviousExchange {
        NtpInstant sent;              // t1, local clock
        NtpTimestamp server_receive;  // t2
        NtpInstant received;          // t4, local clock
        NtpTimestamp received_wire;   // t4 as sent back in the receive field
        StampSource sent_source = StampSource::Daemon;
        StampSource received_source = StampSource::Daemon;
    };

    Nanoseconds next_interval(RandomSource& random) const;
    // NTS: whether this poll must wait for NTS-KE (asking for it once).
    bool needs_key_exchange(SourceActions& actions);
    // NTS: the request header followed by the NTS fields.
    bool protect(std::span<const uint8_t, kHeaderLength> header, std::vector<uint8_t>& packet);

    SourceId id_;
    SourceConfig config_;
    uint32_t address_reference_id_;
    PollController poll_;
    Reachability reach_;
    ClockFilter filter_;
    CorrectionLedger own_ledger_;  // without a shared one: nothing is ever corrected
    const CorrectionLedger* ledger_;
    SourceEstimator estimator_;
    SourceCounters counters_;
    std::optional<Outstanding> outstanding_;
    std::optional<NtpTimestamp> last_cookie_;   // of the last answered request
    std::optional<PreviousExchange> previous_;  // xleave only
    unsigned burst_remaining_ = 0;
    unsigned manual_burst_remaining_ = 0;  // nanotimectl burst
    bool online_ = true;                   // nanotimectl offline clears it
    bool unreachable_reported_ = false;
    bool startup_complete_ = false;  // latched: see SourceSnapshot::starting
    bool demobilized_ = false;
    std::optional<nts::NtsClient> nts_;  // NTS: keys and cookie jar
    bool ke_pending_ = false;            // NTS: KeyExchange asked, no answer yet
    // From the last reply that passed the header tests:
    NtpHeader server_;
    bool has_server_ = false;
    std::optional<LastExchange> last_exchange_;
};

}  // namespace nanotime::ntp
