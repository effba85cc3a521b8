// snapshot.hpp - what the control protocol can tell about the daemon.
//
// The daemon fills a DaemonSnapshot from its protocol core, clock backend and
// event loop when a request arrives; the request handler is a pure function
// of the request and this snapshot. Units are in the field names: _s seconds,
// _ppm parts per million, _ns nanoseconds.
//
// Signs: an offset is server minus local (positive: the local clock is
// behind), and a source's frequency is how fast that offset grows (ppm,
// positive: the local clock runs slow against the source). chronyc shows both
// with the opposite sign (local minus source); its `tracking` frequency and
// ours have the same sense (the correction the clock needs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nanotime::ctl {

// The clock discipline's health (daemon/discipline, ClientCore's
// DisciplineStatus): what stops it from correcting the clock.
struct DisciplineInfo {
    bool adjusting = true;           // clock.adjust: false = the clock is only watched
    unsigned updates = 0;            // clock updates since start (or the last restart)
    double last_update_age_s = -1;   // since the last clock update, -1: none yet
    double polls_since_update = 0;   // last_update_age_s in the longest reachable poll
    bool frequency_limited = false;  // the oscillator needs more than clock.max_frequency
    double frequency_ppm = 0;        // base frequency set (without the slew)
    double max_frequency_ppm = 0;    // clock.max_frequency
    bool stalled = false;            // no update for stall_polls polls, sources answering
    unsigned stall_polls = 0;        // polls without an update that count as a stall
    unsigned restarts = 0;           // estimates restarted after a stall
    bool slewing = false;            // a slew of the last update is running
    // One word per fault present: "frequency-limited", "stalled"; empty: none.
    std::vector<std::string> faults;
};

// One network interface's timestamping (io/stamping_plan.hpp decides it).
struct InterfaceTimestampingInfo {
    std::string name;
    std::string rx = "kernel";        // where receive stamps come from: hardware, kernel, daemon
    std::string tx = "kernel";        // where transmit stamps come from: hardware, kernel, daemon
    bool hardware_capable = false;    // the driver offers RX and TX hardware stamps and a PHC
    bool hardware_requested = false;  // io.hwtimestamp names it (or "*")
    int phc_index = -1;               // /dev/ptpN of its PTP clock, -1: none
    std::string rx_filter;            // the hardware RX filter it would use ("" if none)
    std::string reason;               // why rx and tx are what they are
};

struct StatusInfo {
    std::string version;
    int64_t pid = 0;
    double uptime_s = 0;
    std::string io_backend;     // "io_uring" / "poll"
    std::string io_detail;      // EventLoop::describe()
    std::string clock_backend;  // "system" / "nanoclock"
    std::string clock_device;   // "CLOCK_REALTIME" or the device path
    bool synchronized = false;
    int stratum = 16;
    std::string reference_id;   // "192.0.2.1", "GPS", "-"
    std::string leap = "none";  // none / insert / delete / unknown
    unsigned sources = 0;
    unsigned sources_reachable = 0;
    bool server_enabled = false;
    uint64_t server_received = 0;
    uint64_t server_responded = 0;
    uint64_t server_denied = 0;
    uint64_t server_rate_limited = 0;
    uint64_t server_malformed = 0;  // requests that failed to parse, or not mode 3
    // Datagrams larger than the receive buffer (MSG_TRUNC), on any socket of
    // any thread: dropped unread and never answered.
    uint64_t datagrams_truncated = 0;
    uint64_t log_suppressed = 0;  // log lines withheld by the rate limiter
    // Leap seconds file (clock.leap_seconds_file): "" when none is loaded.
    std::string leap_file;
    double leap_file_expires_s = 0;  // Unix time
    double next_leap_s = 0;          // Unix time of the next known leap, 0 if none
    int tai_offset = 0;              // TAI - UTC from the file, 0 if unknown
    // CLOCK_REALTIME steering (clock.steer_realtime): off, waiting (the
    // nanoclock is unsynchronised), unlocked, locked.
    std::string realtime_steering = "off";
    double realtime_offset_s = 0;      // CLOCK_REALTIME - the nanoclock, last measured
    uint64_t realtime_steps = 0;       // CLOCK_REALTIME steps by the steering
    uint64_t replies_across_step = 0;  // NTP replies dropped: a realtime step fell inside
    DisciplineInfo discipline;
    // Every network interface of the daemon's namespace, probed at start-up.
    std::vector<InterfaceTimestampingInfo> interfaces;
};

struct TrackingInfo {
    std::string reference_id = "-";
    std::string reference_name = "-";
    int stratum = 16;
    double reference_time_s = 0;  // Unix time of the last update, 0 if none
    // The offset the last clock update worked from (the combined estimate
    // then, positive: we are behind) and how long ago that was (s, -1: never).
    double system_offset_s = 0;
    double system_offset_age_s = -1;
    double offset_sd_s = 0;  // its standard deviation
    // Base frequency the discipline set (the correction the oscillator
    // needs, without a slew in progress); before the first update the
    // clock's frequency correction as found.
    double frequency_ppm = 0;
    double residual_frequency_ppm = 0;  // the system peer's, as in sourcestats
    double skew_ppm = 0;                // standard deviation of frequency_ppm
    double std_dev_s = 0;               // typical error of one system-peer sample
    // What the server puts in its replies now: root delay and root
    // dispersion grown since the last update (to the wire's 2^-16 s
    // resolution they are the bytes sent).
    double root_delay_s = 0;
    double root_dispersion_s = 0;
    double root_dispersion_rate_ppm = 0;  // how fast root_dispersion_s grows
    double jitter_s = 0;
    double update_interval_s = 0;
    std::string leap = "none";
};

struct SourceInfo {
    std::string name;     // as configured (host name or address)
    std::string address;  // resolved address, "-" while unresolved
    std::string kind;     // "server" / "pool"
    std::string state;    // selected, candidate, outlier, falseticker, unreachable, unknown
    int stratum = 16;
    int poll = 6;        // log2 s
    unsigned reach = 0;  // 8-bit reachability register
    // The newest sample, as measured (chronyc's "[measured]" offset, sign
    // flipped): its age on the local clock (the exchange's midpoint, -1: no
    // sample), offset, round-trip delay, and whether the estimator held it
    // back as an outlier.
    double last_rx_ago_s = -1;
    double sample_time_s = 0;  // Unix time of that midpoint, 0: no sample
    double offset_s = 0;
    double delay_s = 0;
    bool outlier = false;
    // Clock-filter statistics (RFC 5905 §10), used by selection.
    double dispersion_s = 0;
    double jitter_s = 0;
    bool nts = false;  // authenticated with NTS (RFC 8915)
    // NTP sources: how the newest sample was measured: interleaved mode
    // (xleave) or basic, and where its transmit (t1) and receive (t4) times
    // came from: "kernel", "daemon" or "hardware" ("" before a sample).
    bool last_interleaved = false;
    std::string tx_timestamp_source;
    std::string rx_timestamp_source;
    // Refclocks (kind "sock", "shm"): readings taken in and refused by the
    // driver's checks, and the last refusal ("" if none).
    uint64_t samples = 0;
    uint64_t rejected = 0;
    std::string last_error;
};

// One NTS source's authentication (chronyc authdata).
struct AuthDataInfo {
    std::string name;
    std::string address;  // where NTP goes (the NTS-KE server may name another host)
    std::string mode = "NTS";
    unsigned aead = 0;           // IANA AEAD id in use (15 or 30), 0 without keys
    unsigned cookies = 0;        // in the jar (8 when full)
    uint64_t key_exchanges = 0;  // NTS-KE asked for by the source
    uint64_t key_exchanges_ok = 0;
    uint64_t key_exchanges_failed = 0;
    double last_key_exchange_ago_s = -1;  // -1: none yet
    uint64_t naks = 0;                    // NTSN kiss-o'-death for our requests
    uint64_t rejected = 0;   // replies that failed the NTS checks (forged, replayed, ...)
    std::string last_error;  // the last NTS-KE failure, "" if none since
};

// The server side (chronyc serverstats): NTP, NTS-protected NTP, NTS-KE and
// the master keys.
struct ServerStatsInfo {
    bool ntp = false;  // [server] listens
    uint64_t ntp_received = 0;
    uint64_t ntp_responded = 0;
    uint64_t ntp_denied = 0;
    uint64_t ntp_rate_limited = 0;
    uint64_t ntp_malformed = 0;
    uint64_t ntp_interleaved = 0;  // answered in interleaved mode (part of ntp_responded)
    uint64_t ntp_tx_stamps = 0;    // kernel TX stamps of interleaved replies kept
    bool nts = false;              // NTS requests answered
    uint64_t nts_authentic = 0;    // answered with an authenticator
    uint64_t nts_nak = 0;          // answered with NTSN (cookie would not open)
    uint64_t nts_dropped = 0;      // dropped, by reason below
    uint64_t nts_malformed = 0;
    uint64_t nts_missing_field = 0;
    uint64_t nts_auth_failed = 0;
    uint64_t nts_no_sealing_key = 0;
    uint64_t nts_crypto_failure = 0;
    uint64_t cookie_unknown_key = 0;  // why cookies did not open (each also a NAK)
    uint64_t cookie_auth_failed = 0;
    uint64_t cookie_bad_contents = 0;
    bool nts_ke = false;  // [nts_ke] listens
    uint64_t ke_accepted = 0;
    uint64_t ke_keys_issued = 0;
    uint64_t ke_no_common_protocol = 0;
    uint64_t ke_no_common_aead = 0;
    uint64_t ke_bad_request = 0;
    uint64_t ke_unrecognized_critical = 0;
    uint64_t ke_internal_error = 0;
    uint64_t ke_tls_failed = 0;
    uint64_t ke_timed_out = 0;
    uint64_t ke_refused = 0;  // at accept: connection cap, per-address rate, memory
    uint64_t ke_certificate_reloads = 0;
    // The NTS pool's time-source side ([nts_ke] pool_ca): requests served,
    // refused by reason, Keep Alive sessions, NTP Server Deny records.
    bool ke_pool = false;
    uint64_t ke_pool_support_served = 0;
    uint64_t ke_pool_fixed_key_served = 0;
    uint64_t ke_pool_refused_no_certificate = 0;
    uint64_t ke_pool_refused_certificate = 0;
    uint64_t ke_pool_refused_token = 0;
    uint64_t ke_pool_refused_malformed = 0;
    uint64_t ke_pool_refused_protocol = 0;
    uint64_t ke_pool_refused_aead = 0;
    uint64_t ke_pool_refused_internal = 0;
    uint64_t ke_pool_keep_alive_sessions = 0;  // admitted to Keep Alive
    uint64_t ke_pool_keep_alive_refused = 0;   // asked while pool_max_sessions were open
    uint64_t ke_pool_keep_alive_open = 0;      // open now
    uint64_t ke_server_deny = 0;               // NTP Server Deny records received
    bool keys = false;                         // this host holds NTS master keys
    bool keys_writer = false;                  // it rotates and writes the key file
    unsigned keys_held = 0;
    uint32_t key_sealing_id = 0;
    double key_next_check_s = 0;  // Unix s: next rotation or file check
    uint64_t key_rotations = 0;
    uint64_t key_loads = 0;
    uint64_t key_failures = 0;
    std::string key_last_error;
};

// A source's estimator (discipline/source_estimator.hpp), as the discipline
// uses it now: chronyc sourcestats' columns.
struct SourceStatsInfo {
    std::string name;
    unsigned samples = 0;       // samples the estimator keeps (NP)
    unsigned samples_used = 0;  // taken in since the filter was (re)anchored
    uint64_t outliers = 0;      // samples held back by the innovation gate
    double span_s = 0;          // oldest kept sample to the newest
    // Residual frequency: how fast this source's offset grows against the
    // local clock as it runs now, without a slew in progress (positive: the
    // local clock is slow); skew is its standard deviation.
    double frequency_ppm = 0;
    double skew_ppm = 0;
    double offset_s = 0;                // the estimated offset now, on the local clock
    double offset_sd_s = 0;             // its standard deviation
    double std_dev_s = 0;               // typical error of one sample
    double min_delay_s = 0;             // shortest round trip kept
    double delay_s = 0;                 // clock filter: delay of the sample it chose
    double jitter_s = 0;                // clock filter: jitter
    double dispersion_s = 0;            // clock filter: dispersion
    uint64_t requests = 0;              // requests sent
    uint64_t replies = 0;               // replies that gave a sample
    uint64_t kernel_tx_timestamps = 0;  // requests whose t1 is the kernel's TX timestamp
    uint64_t interleaved = 0;           // samples from interleaved replies (xleave)
    uint64_t replies_across_step = 0;   // replies dropped: the clock was stepped while out
};

// One NTP source's last exchange that gave a sample (chronyc ntpdata): the
// reply's header fields and the four timestamps. Timestamps are Unix
// nanoseconds as text ("1733580000.123456789"): a double would round them
// to a few hundred ns.
struct NtpDataInfo {
    std::string name;
    std::string address;  // remote address
    uint16_t port = 123;
    bool has_exchange = false;  // false: no sample yet, the fields below are empty
    std::string leap = "unknown";
    unsigned version = 4;
    unsigned mode = 4;
    int stratum = 16;
    int poll = 0;       // the server's poll field, log2 s
    int precision = 0;  // the server's precision, log2 s
    double root_delay_s = 0;
    double root_dispersion_s = 0;
    std::string reference_id;  // the server's own reference
    std::string reference_time;
    std::string local_transmit;   // t1, local clock
    std::string remote_receive;   // t2, server clock
    std::string remote_transmit;  // t3, server clock
    std::string local_receive;    // t4, local clock
    double offset_s = 0;          // server minus local (positive: we are behind)
    double delay_s = 0;           // round trip minus the server's turnaround
    double dispersion_s = 0;      // the sample's dispersion (precisions, tolerance)
    double response_time_s = 0;   // t3 - t2: the server's turnaround
    double age_s = -1;            // since t4
    bool interleaved = false;     // the timestamps came from an interleaved reply (xleave)
    bool authenticated = false;   // NTS
    // Where t1 came from: "kernel" (SO_TIMESTAMPING TX stamp) or "daemon"
    // (read before sending); "hardware" once NIC stamps are taken.
    std::string tx_timestamp_source = "daemon";
    // Where t4 came from: "kernel" (SO_TIMESTAMPING RX stamp) or "daemon".
    std::string rx_timestamp_source = "daemon";
    uint64_t total_tx = 0;        // requests sent
    uint64_t total_rx = 0;        // replies that parsed, of any kind
    uint64_t total_valid_rx = 0;  // replies that gave a sample
};

// Why a source is or is not selected (chronyc selectdata).
struct SelectDataInfo {
    std::string name;
    std::string address;
    // chronyc's letter: * selected, + combined, - outlier (not combined),
    // x falseticker, ? unfit (see reason), ~ too variable (not used here).
    std::string state_code = "?";
    std::string state;   // as in sources: selected, candidate, outlier, falseticker, unfit, ...
    std::string reason;  // for unfit: no-statistics, unreachable, unsynchronised, too-far,
                         // loop, noselect; "" otherwise
    bool noselect = false;
    bool prefer = false;
    unsigned reach = 0;
    double last_sample_ago_s = -1;
    double root_distance_s = 0;  // lambda at the last selection
    // The correctness interval the intersection algorithm worked with:
    // offset -/+ root distance (s, positive: we are behind).
    double interval_low_s = 0;
    double interval_high_s = 0;
};

// Source counts by state (chronyc activity).
struct ActivityInfo {
    unsigned online = 0;
    unsigned offline = 0;
    unsigned burst_online = 0;   // in a burst, back to online after it
    unsigned burst_offline = 0;  // in a burst, back to offline after it
    unsigned unresolved = 0;     // configured sources whose name is not resolved yet
};

struct KernelInfo {
    std::string clock;       // "CLOCK_REALTIME" or "/dev/nanoclock0"
    bool available = false;  // the clock could be read
    int state = 0;           // adjtimex return: TIME_OK, TIME_INS, ...
    std::string state_name;
    std::vector<std::string> status;  // STA_* flags set
    double offset_s = 0;
    double frequency_ppm = 0;
    double max_error_s = 0;
    double est_error_s = 0;
    int64_t time_constant = 0;
    double precision_s = 0;
    double tolerance_ppm = 0;
    double tick_s = 0;
    int tai_offset = 0;
    // From the nanoclock module's netlink channel (nanoclock backend only).
    std::string netlink;                   // "ok", or why the channel is not there
    int ptp_index = -1;                    // /dev/ptpM of the clock, -1 none
    uint64_t events = 0;                   // EVENT multicasts received
    uint64_t events_lost = 0;              // dropped by the kernel (socket overrun)
    std::vector<std::string> last_events;  // "pps-gained 3", counts by kind
};

// One source of nanoclock-pps*.ko (its latest EDGE or GET_SOURCE state).
struct PpsSourceInfo {
    std::string name;     // "gpio0", "bridge0"
    std::string kind;     // "gpio", "sim", "ldisc", "bridge"
    int pps_device = -1;  // its own /dev/ppsN
    int clock = -1;       // bound /dev/nanoclockN, -1 none
    bool time = false;    // STA_PPSTIME on the bound clock
    bool frequency = false;
    bool configured = false;    // named by a [[pps]] entry
    std::string binding_error;  // why a configured source is not bound
    uint64_t edges = 0;
    uint64_t fed = 0;
    uint64_t rejected = 0;
    uint64_t popcorn = 0;
    uint64_t gaps = 0;
    double phase_s = 0;      // clock phase at the last fed edge
    double jitter_s = 0;     // EWMA |phase step|
    double wander_s = 0;     // EWMA |interval step|
    double cost_mean_s = 0;  // interrupt to hardpps return
    double cost_max_s = 0;
};

// A [[pps]] bridge: Linux /dev/ppsN read by nanotimed and injected.
struct PpsBridgeInfo {
    std::string device;  // /dev/ppsN read
    std::string source;  // bridge source fed
    std::string edge;    // "assert" / "clear"
    double offset_s = 0;
    bool open = false;
    bool signal = false;  // an edge within the last 2 s
    uint64_t edges = 0;
    uint64_t injected = 0;
    uint64_t missed = 0;
    uint64_t stale = 0;
    uint64_t refused = 0;  // by the kernel
    uint64_t fetch_errors = 0;
    std::string last_error;
};

struct PpsInfo {
    bool available = false;             // the clock reports PPS state (STA_PPSSIGNAL ever seen)
    bool signal = false;                // STA_PPSSIGNAL
    bool discipline_frequency = false;  // STA_PPSFREQ
    bool discipline_time = false;       // STA_PPSTIME
    double frequency_ppm = 0;           // ppsfreq
    double jitter_s = 0;
    int interval_log2 = 0;  // shift
    double stability_ppm = 0;
    int64_t calibrations = 0;        // calcnt
    int64_t jitter_exceeded = 0;     // jitcnt
    int64_t calibration_errors = 0;  // errcnt
    int64_t stability_exceeded = 0;  // stbcnt
    std::vector<PpsSourceInfo> sources;
    std::vector<PpsBridgeInfo> bridges;
};

// One client of the server's rate-limit table (chronyc clients). Counted
// since the client entered the table or since the last `clients -r`.
struct ClientInfo {
    std::string address;           // IPv4 address, or the IPv6 prefix that names a client
    uint64_t ntp_requests = 0;     // requests the table counted (answered, KoD'd or dropped)
    uint64_t ntp_drops = 0;        // dropped over the rate limit
    uint64_t ntp_kod = 0;          // answered with a RATE kiss-o'-death
    uint64_t nts_requests = 0;     // of ntp_requests, NTS-protected
    uint64_t ntp_interleaved = 0;  // replies in interleaved mode
    double last_seen_ago_s = 0;    // since its last request
};

// chronyc clients: what the rate-limit tables hold, most recent first, at
// most kMaxClientRows of them.
struct ClientsInfo {
    bool ntp = false;         // [server] listens
    bool rate_limit = false;  // [server.rate_limit] enabled: without it no client is counted
    uint64_t tracked = 0;     // clients the tables hold (each server thread its own)
    bool truncated = false;   // more than max_rows: only the most recently seen are listed
    uint64_t max_rows = 0;    // the cap (kMaxClientRows)
    bool reset = false;       // clients -r: the counters were zeroed after this was read
    std::vector<ClientInfo> clients;
};

// Rows of the clients view at most: bounds the reply (and what a view shows
// of other hosts' addresses).
inline constexpr size_t kMaxClientRows = 1024;

struct DaemonSnapshot {
    StatusInfo status;
    TrackingInfo tracking;
    std::vector<SourceInfo> sources;
    std::vector<SourceStatsInfo> sourcestats;
    std::vector<AuthDataInfo> authdata;
    std::vector<NtpDataInfo> ntpdata;
    std::vector<SelectDataInfo> selectdata;
    ActivityInfo activity;
    ServerStatsInfo serverstats;
    ClientsInfo clients;
    KernelInfo kernel;
    PpsInfo pps;
};

}  // namespace nanotime::ctl
