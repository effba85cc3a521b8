// config.hpp - nanotimed's configuration, typed.
//
// Read from TOML (/etc/nanotime/nanotimed.toml). Parsing is strict: a key the
// daemon does not know, a value of the wrong type or out of range is an
// error reported as file:line:column and the reason, and the daemon refuses
// to start (or, on SIGHUP, keeps its current configuration). daemon/CONFIG.md
// documents every key; keep the two in step.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket_address.hpp"
#include "nts/nts_keys.hpp"
#include "server/ntp_server.hpp"
#include "source/ntp_source.hpp"
#include "source/refclock_source.hpp"

namespace nanotime::config {

inline constexpr const char* kDefaultPath = "/etc/nanotime/nanotimed.toml";

enum class SourceKind { Server, Pool };

// One [[source]]: a server or pool name, resolved at run time. Its polling
// options are the core's own ntp::SourceConfig (one type for them), into
// which the address is filled once the name resolves.
struct SourceEntry {
    SourceKind kind = SourceKind::Server;
    std::string address;  // host name or IP literal
    uint16_t port = 123;
    unsigned max_sources = 4;               // pool: members kept
    bool nts = false;                       // authenticate with NTS (RFC 8915): NTS-KE first
    uint16_t nts_port = 4460;               // the NTS-KE port of @address
    std::string file;                       // the file it was written in, for messages
    uint32_t line = 0;                      // where it was written, for messages
    ntp::SourceConfig source = defaults();  // minpoll, maxpoll (log2 s), iburst, xleave

    // The configuration's defaults: iburst is off unless asked for.
    static ntp::SourceConfig defaults() {
        ntp::SourceConfig c;
        c.iburst = false;
        return c;
    }

    friend bool operator==(const SourceEntry&, const SourceEntry&) = default;
};

// The same source wherever in the file it was written: a reload keeps it
// running.
inline bool same_source(SourceEntry a, const SourceEntry& b) {
    a.file = b.file;
    a.line = b.line;
    return a == b;
}

// [server] is read straight into the core's ntp::ServerConfig (listen
// addresses, access list, rate limit): start-up uses these values as they
// are, so nothing the check accepts can fail to convert later.
// The configuration's defaults: rate limiting is on unless switched off.
ntp::ServerConfig default_server_config();

enum class ClockBackendKind { System, Nanoclock };

struct ClockConfig {
    ClockBackendKind backend = ClockBackendKind::System;
    std::string device = "/dev/nanoclock0";
    bool adjust = true;               // false: measure and serve, never adjust the clock
    bool steer_realtime = true;       // nanoclock: keep CLOCK_REALTIME on it
    double step_threshold = 0.128;    // seconds; larger offsets are stepped
    double panic_threshold = 1000.0;  // seconds; larger offsets are refused (0: never)
    // Like chrony's `makestep 1 3` (Debian's default): step an offset beyond
    // makestep_threshold (s) in the first makestep_limit clock updates (-1:
    // always; threshold 0: never).
    double makestep_threshold = 1.0;
    int makestep_limit = 3;
    double max_frequency_ppm = 500.0;  // |frequency| the discipline may set (Linux MAXFREQ)
    // Fastest slew (ppm) beyond the frequency: through the kernel tick, up
    // to 10 % (chrony's maxslewrate default, 83333 ppm: 0.1 s in 1.2 s).
    double max_slew_rate_ppm = 83333.0;
    std::string drift_file = "/var/lib/nanotime/drift";
    std::string leap_seconds_file = "/usr/share/zoneinfo/leap-seconds.list";
};

enum class PpsEdgeKind { Assert, Clear };

// [[pps]]: a source of nanoclock-pps*.ko bound to the disciplined nanoclock,
// and for bridge sources the Linux /dev/ppsN whose edges are carried into it.
struct PpsConfig {
    std::string source;  // the nanoclock_pps source's name: "gpio0", "bridge0", ...
    std::string device;  // bridge sources: /dev/ppsN read with RFC 2783; empty: none
    PpsEdgeKind edge = PpsEdgeKind::Assert;  // which edge of @device is the second
    double offset = 0;          // s, |offset| <= 10 ms; the edge comes this long after the
                                // second (cable, receiver delay): subtracted from each stamp
    bool pps_time = true;       // STA_PPSTIME: the PPS disciplines the phase
    bool pps_frequency = true;  // STA_PPSFREQ: the PPS disciplines the frequency
    uint32_t line = 0;
};

enum class RefclockDriver { Sock, Shm, Pps, Phc };

// [[refclock]]: a reference clock whose readings go through the same
// filter, selection and combining as NTP sources (daemon/CONFIG.md).
struct RefclockEntry {
    RefclockDriver driver = RefclockDriver::Sock;
    std::string path;   // sock: the socket nanotimed creates (gpsd writes to it);
                        // pps: the /dev/ppsN read through RFC 2783;
                        // phc: the PTP hardware clock /dev/ptpN
    unsigned unit = 0;  // shm: segment 0-3 (key 0x4e545030 + unit)
    PpsEdgeKind edge = PpsEdgeKind::Assert;  // pps: which edge begins the second
    std::string lock;  // pps: the refid of the refclock numbering its seconds ("": the system)
    bool nocrossts = false;  // phc: never PTP_SYS_OFFSET_PRECISE (cross-timestamps)
    std::string refid;       // 1-4 ASCII characters; default "SOCK", "SHM<unit>", "PPS" or "PHC"
    uint32_t line = 0;
    ntp::RefclockConfig refclock;  // poll, filter, offset, delay, precision, prefer, noselect
};

// [nts_ke]: the NTS-KE server (RFC 8915 §4, TLS 1.3, ALPN "ntske/1"); off
// unless listen is set. It runs on a thread of its own so that handshakes
// never delay an NTP reply.
struct NtsKeServerConfig {
    std::vector<ntp::SocketAddress> listen;             // port 4460 unless given
    std::string certificate = "/etc/nanotime/nts.crt";  // PEM chain, leaf first
    std::string private_key = "/etc/nanotime/nts.key";  // PEM
    unsigned max_connections = 100;                     // open at once; more are closed at accept
    double timeout = 2.0;        // s, from accept to the response, handshake included
    double address_rate = 1.0;   // new connections per second per client address
    unsigned address_burst = 8;  // and the burst above that rate
    // NTPv4 Server / Port Negotiation records: where clients send NTS NTP
    // requests when that is not this host (NTP servers sharing the key file).
    std::string ntp_server;  // empty: no record (clients use this host)
    uint16_t ntp_port = 0;   // 0: no record (clients use 123)
    // The AEADs (IANA ids) to agree, best first: [nts] aead_algorithms,
    // copied here by the parser (one list serves both halves).
    std::vector<uint16_t> aead_algorithms{std::begin(nts::kDefaultAeadPreference),
                                          std::end(nts::kDefaultAeadPreference)};
    // The time-source side of the NTS pool draft (daemon/nts/README.md):
    // Supported lists, Fixed Key Request and Keep Alive from a pool that
    // presents a client certificate issued by @pool_ca and one of the
    // tokens. Empty pool_ca: off (no client certificate is asked for).
    std::string pool_ca;                   // PEM: the CA(s) that issue the pool's certificate
    std::vector<std::string> pool_tokens;  // accepted Authentication tokens
    std::string pool_token_file;           // more tokens, one a line (read at start)
    unsigned pool_max_requests = 1000;     // requests per Keep Alive session
    double pool_idle_timeout = 300.0;      // s a Keep Alive session may stay silent
    unsigned pool_max_sessions = 10;       // Keep Alive sessions open at once

    bool enabled() const { return !listen.empty(); }
    bool pool_enabled() const { return !pool_ca.empty(); }
};

// [metrics]: the Prometheus exporter (GET /metrics) on a thread of its own.
// Off unless listen is set; TLS 1.3 when both certificate and private_key are.
struct MetricsConfig {
    std::vector<ntp::SocketAddress> listen;  // port 9975 unless given
    std::string certificate;                 // PEM chain, leaf first; empty: plain HTTP
    std::string private_key;                 // PEM
    unsigned max_connections = 16;           // open at once; more are closed at accept
    double timeout = 10.0;  // s: a request must arrive whole (TLS handshake included)

    bool enabled() const { return !listen.empty(); }
    bool tls() const { return !certificate.empty(); }
};

// [broker]: the TCP services broker (daemon/broker/README.md): the HTTPS
// operator API under /v1 and the members' subscriptions, on a thread of its
// own. Off unless listen is set; always TLS 1.3 with client certificates
// from the broker's own CA (ca_certificate / ca_key) or bearer tokens.
struct BrokerConfig {
    std::vector<ntp::SocketAddress> listen;                      // port 4461 unless given
    std::string certificate = "/etc/nanotime/broker.crt";        // PEM chain, leaf first
    std::string private_key = "/etc/nanotime/broker.key";        // PEM
    std::string database = "/var/lib/nanotime/broker.db";        // SQLite
    std::string ca_certificate = "/etc/nanotime/broker-ca.crt";  // issues client certificates
    std::string ca_key = "/etc/nanotime/broker-ca.key";          // PEM
    unsigned max_connections = 1024;  // open at once (members + operators)
    double timeout = 10.0;            // s: a request must arrive whole (TLS handshake included)
    unsigned state_interval = 5;      // s between a member's state messages

    bool enabled() const { return !listen.empty(); }
};

// [broker_client]: subscribe to a fleet broker (daemon/broker/PROTOCOL.md):
// dial out over TLS 1.3 with a member certificate, report state, answer
// relayed control commands. Off unless url is set.
struct BrokerClientConfig {
    std::string url;          // "https://host[:port]"; empty: no subscription
    std::string host;         // from url: the name dialled, sent as SNI and checked
    uint16_t port = 4461;     // from url, 4461 unless given
    std::string certificate;  // PEM chain of this member, leaf first
    std::string private_key;  // PEM
    std::string trusted_ca;   // PEM: the broker's CA; empty: the system store
    // Seconds between state messages; 0: what the broker's welcome says.
    double state_interval = 0;
    // Relayed management commands (reload, makestep, ...) run; false: only
    // the read views answer, the rest are refused.
    bool allow_management = true;

    bool enabled() const { return !url.empty(); }
};

enum class CertificateTimeCheck { Always, AfterSync };

// [nts]: NTS for both halves: trust for NTS sources, and the master keys
// that seal this server's cookies.
struct NtsConfig {
    std::string trusted_ca;  // PEM trust anchors for NTS-KE servers; empty: the system store
    // AfterSync: accept NTS-KE certificates outside their validity period
    // until the clock has been synchronised once (a host whose clock starts
    // wrong; chrony's nocerttimecheck). Names and chains are always checked.
    CertificateTimeCheck certificate_time_check = CertificateTimeCheck::Always;
    std::string key_file = "/var/lib/nanotime/nts-keys";
    // Seconds each master key seals cookies; 0: this host does not rotate,
    // it reads the key file another host writes (re-read every minute).
    double key_rotation = 3600;
    unsigned previous_keys = 3;  // keys kept after sealing, opening older cookies
    // AEAD algorithms (IANA ids), best first: what NTS sources offer in
    // NTS-KE, and the order the NTS-KE server picks in. Default: 30
    // (AES-128-GCM-SIV), then 15 (AES-SIV-CMAC-256, which every peer has).
    std::vector<uint16_t> aead_algorithms{std::begin(nts::kDefaultAeadPreference),
                                          std::end(nts::kDefaultAeadPreference)};
};

struct ControlConfig {
    std::string socket = "/run/nanotime/nanotimed.sock";
    std::string group;     // may use privileged commands (root always may)
    unsigned mode = 0666;  // socket file permissions
    // Sources added at run time (nanotimectl add) are kept here and read
    // after the configuration at start and reload; empty: they last until
    // the daemon stops. Only [[source]] tables: a file the daemon writes
    // itself can add sources, never change anything else.
    std::string sources_file = "/var/lib/nanotime/sources.toml";
};

enum class IoBackendChoice { Auto, IoUring, Poll };

struct IoConfig {
    IoBackendChoice backend = IoBackendChoice::Auto;
    unsigned ring_entries = 256;
    unsigned receive_buffers = 256;
    // Interfaces whose hardware timestamping is wanted (chrony's
    // hwtimestamp), "*" for all: probed and reported (nanotimectl status);
    // see io/stamping_plan.hpp for what is enabled.
    std::vector<std::string> hwtimestamp;
};

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

struct LogConfig {
    LogLevel level = LogLevel::Info;
    std::string file;                // empty: standard error (the journal under systemd)
    unsigned rate_limit_burst = 10;  // messages of one class before suppression
    double rate_limit_period = 6.0;  // seconds per message of one class, sustained
};

enum class SeccompMode { Enforce, Log, Off };

struct ServiceConfig {
    std::string user = "_nanotime";  // drop to this user when started as root; empty: stay
    SeccompMode seccomp = SeccompMode::Enforce;
    // Simulation and testing only: the daemon's random choices (request
    // cookies, poll jitter, hash keys) come from SplitMix64 seeded with this
    // instead of the OpenSSL CSPRNG, so that paired simulator runs compare.
    // Makes request cookies predictable (off-path spoofing). Unset: CSPRNG.
    std::optional<uint64_t> random_seed;
};

struct Config {
    std::vector<SourceEntry> sources;
    std::vector<PpsConfig> pps;
    std::vector<RefclockEntry> refclocks;
    ntp::ServerConfig server = default_server_config();
    NtsKeServerConfig nts_ke;
    NtsConfig nts;
    ClockConfig clock;
    ControlConfig control;
    IoConfig io;
    LogConfig log;
    ServiceConfig service;
    MetricsConfig metrics;
    BrokerConfig broker;
    BrokerClientConfig broker_client;
};

struct ConfigError {
    std::string file;
    uint32_t line = 0;    // 1-based; 0 when unknown
    uint32_t column = 0;  // 1-based; 0 when unknown
    std::string message;
    std::string to_string() const;  // "file:line:column: message"
};

struct ParseResult {
    std::optional<Config> config;  // set when errors is empty
    std::vector<ConfigError> errors;
};

// Parses TOML text; @filename only labels the errors.
ParseResult parse_config(std::string_view text, std::string_view filename);

// A drop-in file's text and name, merged after the main file.
struct DropIn {
    std::string name;  // its path, as errors name it
    std::string text;
};
// The main file's text followed by drop-ins in the order given: a
// [[section]] array gains the drop-in's entries, a table is merged key by
// key, and a key set again takes the later value. Errors name the file and
// line where the offending node was written.
ParseResult parse_config(std::string_view text, std::string_view filename,
                         const std::vector<DropIn>& drop_ins);

// The drop-in directory of the configuration @path: its name without
// ".toml", plus ".d" (/etc/nanotime/nanotimed.toml -> /etc/nanotime/nanotimed.d).
std::string drop_in_dir(const std::string& path);

// Reads and parses a file and the *.toml files of its drop-in directory
// (drop_in_dir), in name order (bytewise); a missing directory is none. An
// unreadable file is one error.
ParseResult load_config(const std::string& path);

// The run-time sources file ([control] sources_file): TOML holding only
// [[source]] tables, checked as in the configuration. Errors name
// @filename and the line.
struct SourcesFileResult {
    std::vector<SourceEntry> sources;  // valid when errors is empty
    std::vector<ConfigError> errors;
};
SourcesFileResult parse_sources_file(std::string_view text, std::string_view filename);
// Reads and parses @path; a missing file holds no sources.
SourcesFileResult load_sources_file(const std::string& path);
// The TOML text of @sources as [[source]] tables, every setting written
// out, so that parse_sources_file gives them back (same_source).
std::string format_sources_file(const std::vector<SourceEntry>& sources);

const char* to_string(LogLevel level);
const char* to_string(IoBackendChoice choice);
const char* to_string(ClockBackendKind kind);
const char* to_string(SeccompMode mode);
const char* to_string(PpsEdgeKind edge);
const char* to_string(RefclockDriver driver);
const char* to_string(CertificateTimeCheck check);

}  // namespace nanotime::config
