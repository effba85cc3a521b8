// snapshot.hpp - what the control protocol can tell about the daemon.
//
// The daemon fills a DaemonSnapshot from its protocol core, clock backend and
// event loop when a request arrives; the request handler is a pure function
// of the request and this snapshot. Units are in the field names: _s seconds,
// _ppm parts per million, _ns nanoseconds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nanotime::ctl {

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
};

struct TrackingInfo {
    std::string reference_id = "-";
    std::string reference_name = "-";
    int stratum = 16;
    double reference_time_s = 0;  // Unix time of the last update, 0 if none
    double system_offset_s = 0;   // last offset estimate (positive: we are behind)
    double rms_offset_s = 0;
    double frequency_ppm = 0;  // the clock's frequency correction
    double skew_ppm = 0;
    double root_delay_s = 0;
    double root_dispersion_s = 0;
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
    int poll = 6;               // log2 s
    unsigned reach = 0;         // 8-bit reachability register
    double last_rx_ago_s = -1;  // -1: never
    double offset_s = 0;
    double delay_s = 0;
    double dispersion_s = 0;
    double jitter_s = 0;
};

struct SourceStatsInfo {
    std::string name;
    unsigned samples = 0;  // clock-filter stages holding a sample
    double span_s = 0;     // time between oldest and newest sample
    double offset_s = 0;
    double delay_s = 0;
    double jitter_s = 0;
    double dispersion_s = 0;
    uint64_t requests = 0;              // requests sent
    uint64_t replies = 0;               // replies that gave a sample
    uint64_t kernel_tx_timestamps = 0;  // requests whose t1 is the kernel's TX timestamp
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

struct DaemonSnapshot {
    StatusInfo status;
    TrackingInfo tracking;
    std::vector<SourceInfo> sources;
    std::vector<SourceStatsInfo> sourcestats;
    KernelInfo kernel;
    PpsInfo pps;
};

}  // namespace nanotime::ctl
