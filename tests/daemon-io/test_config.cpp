// The configuration parser: defaults, every section, and strict errors with
// file:line:column.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "config/config.hpp"

namespace nanotime::config {
namespace {

ParseResult parse(std::string_view text) {
    return parse_config(text, "test.toml");
}

// The first error, as "file:line:column: message".
std::string first_error(std::string_view text) {
    ParseResult r = parse(text);
    EXPECT_FALSE(r.config.has_value());
    return r.errors.empty() ? std::string("<no error>") : r.errors.front().to_string();
}

TEST(Config, EmptyFileGivesDefaults) {
    ParseResult r = parse("");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    const Config& c = *r.config;
    EXPECT_TRUE(c.sources.empty());
    EXPECT_FALSE(c.server.enabled());
    ASSERT_TRUE(c.server.rate_limit);  // on unless switched off
    EXPECT_EQ(c.server.rate_limit->interval, ntp::Nanoseconds(2'000'000'000));
    EXPECT_EQ(c.server.rate_limit->memory_bytes, 512u * 1024);
    EXPECT_EQ(c.clock.backend, ClockBackendKind::System);
    EXPECT_DOUBLE_EQ(c.clock.step_threshold, 0.128);
    EXPECT_DOUBLE_EQ(c.clock.panic_threshold, 1000.0);
    // Debian's chrony ships `makestep 1 3`; its maxslewrate is 83333 ppm.
    EXPECT_DOUBLE_EQ(c.clock.makestep_threshold, 1.0);
    EXPECT_EQ(c.clock.makestep_limit, 3);
    EXPECT_DOUBLE_EQ(c.clock.max_frequency_ppm, 500.0);
    EXPECT_DOUBLE_EQ(c.clock.max_slew_rate_ppm, 83333.0);
    EXPECT_EQ(c.control.socket, "/run/nanotime/nanotimed.sock");
    EXPECT_EQ(c.control.mode, 0666u);
    EXPECT_EQ(c.control.sources_file, "/var/lib/nanotime/sources.toml");
    EXPECT_EQ(c.io.backend, IoBackendChoice::Auto);
    EXPECT_EQ(c.log.level, LogLevel::Info);
    EXPECT_EQ(c.service.user, "_nanotime");
    EXPECT_EQ(c.service.seccomp, SeccompMode::Enforce);
}

TEST(Config, ShippedExampleParses) {
    ParseResult r = load_config(NANOTIME_SOURCE_DIR "/daemon/config/nanotimed.toml");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    ASSERT_EQ(r.config->sources.size(), 1u);
    EXPECT_EQ(r.config->sources[0].kind, SourceKind::Pool);
    EXPECT_TRUE(r.config->sources[0].source.iburst);
}

TEST(Config, EverySectionIsRead) {
    ParseResult r = parse(R"(
[[source]]
server = "192.0.2.1"
port = 1123
minpoll = 4
maxpoll = 8
iburst = true
xleave = true

[[source]]
pool = "pool.example.org"
max_sources = 6

[server]
listen = ["127.0.0.1:123", "[::1]:10123", "::"]
allow = ["127.0.0.0/8", "::1"]
deny = ["127.0.0.66/32"]
[server.rate_limit]
enabled = true
interval = 1
burst = 4
kod_interval = 2.5
memory = 65536
ipv6_prefix = 56

[clock]
backend = "nanoclock"
device = "/dev/nanoclock1"
adjust = false
steer_realtime = false
step_threshold = 0.5
panic_threshold = 0
makestep_threshold = 0.01
makestep_limit = -1
max_frequency = 1500
max_slew_rate = 5000
drift_file = ""
leap_seconds_file = "/tmp/leap-seconds.list"

[control]
socket = "/tmp/n.sock"
group = "wheel"
mode = 0o660
sources_file = "/tmp/run-time-sources.toml"

[io]
backend = "poll"
ring_entries = 64
receive_buffers = 512

[log]
level = "debug"
file = "/var/log/nanotimed.log"
rate_limit_burst = 3
rate_limit_period = 1.5

[service]
user = ""
seccomp = "log"
)");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    const Config& c = *r.config;
    ASSERT_EQ(c.sources.size(), 2u);
    EXPECT_EQ(c.sources[0].kind, SourceKind::Server);
    EXPECT_EQ(c.sources[0].address, "192.0.2.1");
    EXPECT_EQ(c.sources[0].port, 1123);
    EXPECT_EQ(c.sources[0].source.minpoll, 4);
    EXPECT_EQ(c.sources[0].source.maxpoll, 8);
    EXPECT_TRUE(c.sources[0].source.iburst);
    EXPECT_TRUE(c.sources[0].source.xleave);
    EXPECT_EQ(c.sources[0].line, 2u);
    EXPECT_EQ(c.sources[1].kind, SourceKind::Pool);
    EXPECT_EQ(c.sources[1].max_sources, 6u);
    // Unset polling options: the configuration's defaults (iburst off).
    EXPECT_EQ(c.sources[1].source.minpoll, 6);
    EXPECT_EQ(c.sources[1].source.maxpoll, 10);
    EXPECT_FALSE(c.sources[1].source.iburst);
    EXPECT_FALSE(c.sources[1].source.xleave);
    EXPECT_EQ(c.server.listen.size(), 3u);
    EXPECT_TRUE(c.server.uses_privileged_port());
    EXPECT_EQ(c.server.listen[0], (ntp::SocketAddress{ntp::IpAddress::v4(127, 0, 0, 1), 123}));
    EXPECT_EQ(c.server.listen[1], *ntp::SocketAddress::parse("[::1]:10123", 0));
    EXPECT_EQ(c.server.listen[2], *ntp::SocketAddress::parse("[::]:123", 0));
    EXPECT_TRUE(c.server.access.permits(ntp::IpAddress::v4(127, 0, 0, 9)));
    EXPECT_TRUE(c.server.access.permits(*ntp::IpAddress::parse("::1")));
    EXPECT_FALSE(c.server.access.permits(ntp::IpAddress::v4(127, 0, 0, 66)));
    EXPECT_FALSE(c.server.access.permits(ntp::IpAddress::v4(192, 0, 2, 1)));
    ASSERT_TRUE(c.server.rate_limit);
    EXPECT_EQ(c.server.rate_limit->interval, ntp::Nanoseconds(1'000'000'000));
    EXPECT_EQ(c.server.rate_limit->burst, 4.0);
    EXPECT_EQ(c.server.rate_limit->kod_interval, ntp::Nanoseconds(2'500'000'000));
    EXPECT_EQ(c.server.rate_limit->memory_bytes, 65536u);
    EXPECT_EQ(c.server.rate_limit->ipv6_prefix, 56u);
    EXPECT_EQ(c.clock.backend, ClockBackendKind::Nanoclock);
    EXPECT_EQ(c.clock.device, "/dev/nanoclock1");
    EXPECT_FALSE(c.clock.steer_realtime);
    EXPECT_FALSE(c.clock.adjust);
    EXPECT_DOUBLE_EQ(c.clock.panic_threshold, 0.0);
    EXPECT_DOUBLE_EQ(c.clock.makestep_threshold, 0.01);
    EXPECT_EQ(c.clock.makestep_limit, -1);
    EXPECT_DOUBLE_EQ(c.clock.max_frequency_ppm, 1500.0);
    EXPECT_DOUBLE_EQ(c.clock.max_slew_rate_ppm, 5000.0);
    EXPECT_EQ(c.clock.drift_file, "");
    EXPECT_EQ(c.control.group, "wheel");
    EXPECT_EQ(c.control.mode, 0660u);
    EXPECT_EQ(c.control.sources_file, "/tmp/run-time-sources.toml");
    EXPECT_EQ(c.io.backend, IoBackendChoice::Poll);
    EXPECT_EQ(c.io.ring_entries, 64u);
    EXPECT_EQ(c.log.level, LogLevel::Debug);
    EXPECT_EQ(c.log.rate_limit_burst, 3u);
    EXPECT_EQ(c.service.user, "");
    EXPECT_EQ(c.service.seccomp, SeccompMode::Log);
}

TEST(Config, UnknownKeyIsReportedWithLineAndColumn) {
    EXPECT_EQ(first_error("[clock]\nbackend = \"system\"\n  stepthreshold = 1.0\n"),
              "test.toml:3:3: unknown key 'stepthreshold' in [clock]");
    EXPECT_EQ(first_error("colour = 1\n"), "test.toml:1:1: unknown key 'colour' in the top level");
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nprefer = true\n"),
              "test.toml:3:1: unknown key 'prefer' in [[source]]");
}

TEST(Config, WrongTypeIsReported) {
    EXPECT_EQ(first_error("[clock]\nstep_threshold = \"fast\"\n"),
              "test.toml:2:18: clock.step_threshold: expected a number, found a string");
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\niburst = 1\n"),
              "test.toml:3:10: source.iburst: expected a boolean, found an integer");
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nxleave = \"yes\"\n"),
              "test.toml:3:10: source.xleave: expected a boolean, found a string");
    EXPECT_EQ(first_error("clock = 3\n"),
              "test.toml:1:9: clock: expected a table, found an integer");
    EXPECT_EQ(first_error("[server]\nlisten = \"127.0.0.1\"\nallow = [\"127.0.0.1\"]\n"),
              "test.toml:2:10: server.listen: expected an array of strings, found a string");
    EXPECT_EQ(first_error("[server]\nallow = [1]\n"),
              "test.toml:2:10: server.allow: expected strings, found an integer");
}

TEST(Config, OutOfRangeAndBadChoices) {
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nminpoll = 2\n"),
              "test.toml:3:11: source.minpoll must be between 3 and 17, not 2");
    EXPECT_EQ(first_error("[io]\nbackend = \"epoll\"\n"),
              "test.toml:2:11: io.backend must be one of \"auto\", \"io_uring\", \"poll\", not "
              "\"epoll\"");
    EXPECT_EQ(first_error("[io]\nreceive_buffers = 100\n"),
              "test.toml:1:1: io.receive_buffers must be a power of two");
    EXPECT_EQ(first_error("[clock]\nstep_threshold = nan\n"),
              "test.toml:2:18: clock.step_threshold must be between 0 and 1e+06, not nan");
    EXPECT_EQ(first_error("[clock]\nmakestep_limit = -2\n"),
              "test.toml:2:18: clock.makestep_limit must be between -1 and 1000000, not -2");
    EXPECT_EQ(first_error("[clock]\nmax_slew_rate = 200000\n"),
              "test.toml:2:17: clock.max_slew_rate must be between 1 and 100000, not 200000");
}

// [nts_ke], [nts] and a source's nts keys, with the names CONFIG.md fixes.
TEST(Config, NtsSectionsAndSourceKeys) {
    ParseResult r = parse(
        "[nts_ke]\nlisten = [\"0.0.0.0\", \"[::1]:14460\"]\n"
        "certificate = \"/etc/x.crt\"\nprivate_key = \"/etc/x.key\"\n"
        "max_connections = 500\ntimeout = 1.5\nntp_server = \"ntp1.example.net\"\n"
        "ntp_port = 1123\n"
        "[nts]\ntrusted_ca = \"/ca.pem\"\ncertificate_time_check = \"after_sync\"\n"
        "key_file = \"/k\"\nkey_rotation = 86400\nprevious_keys = 7\n"
        "aead_algorithms = [\"AES-SIV-CMAC-256\", \"aes-128-gcm-siv\"]\n"
        "[[source]]\nserver = \"time.example.net\"\nnts = true\nnts_port = 14460\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    const Config& c = *r.config;
    ASSERT_EQ(c.nts_ke.listen.size(), 2u);
    EXPECT_EQ(c.nts_ke.listen[0].port, 4460) << "4460 unless given";
    EXPECT_EQ(c.nts_ke.listen[1].port, 14460);
    EXPECT_EQ(c.nts_ke.certificate, "/etc/x.crt");
    EXPECT_EQ(c.nts_ke.private_key, "/etc/x.key");
    EXPECT_EQ(c.nts_ke.max_connections, 500u);
    EXPECT_DOUBLE_EQ(c.nts_ke.timeout, 1.5);
    EXPECT_EQ(c.nts_ke.ntp_server, "ntp1.example.net");
    EXPECT_EQ(c.nts_ke.ntp_port, 1123);
    EXPECT_EQ(c.nts.trusted_ca, "/ca.pem");
    EXPECT_EQ(c.nts.certificate_time_check, CertificateTimeCheck::AfterSync);
    EXPECT_EQ(c.nts.key_file, "/k");
    EXPECT_DOUBLE_EQ(c.nts.key_rotation, 86400);
    EXPECT_EQ(c.nts.previous_keys, 7u);
    EXPECT_EQ(c.nts.aead_algorithms, (std::vector<uint16_t>{15, 30}));
    EXPECT_EQ(c.nts_ke.aead_algorithms, (std::vector<uint16_t>{15, 30})) << "one list, both halves";
    ASSERT_EQ(c.sources.size(), 1u);
    EXPECT_TRUE(c.sources[0].nts);
    EXPECT_EQ(c.sources[0].nts_port, 14460);

    r = parse("[[source]]\npool = \"pool.example.net\"\nnts = true\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    EXPECT_TRUE(r.config->sources[0].nts);
    EXPECT_EQ(r.config->sources[0].nts_port, 4460);
    EXPECT_FALSE(r.config->nts_ke.enabled()) << "off unless listen is set";
    EXPECT_EQ(r.config->nts.aead_algorithms, (std::vector<uint16_t>{30, 15}))
        << "default: GCM-SIV first";
    EXPECT_EQ(r.config->nts_ke.aead_algorithms, (std::vector<uint16_t>{30, 15}));
}

TEST(Config, NtsAeadMistakesAreNamed) {
    EXPECT_EQ(first_error("[nts]\naead_algorithms = [\"AES-128-SIV\"]\n"),
              "test.toml:2:20: nts.aead_algorithms: 'AES-128-SIV' is not \"AES-128-GCM-SIV\" or "
              "\"AES-SIV-CMAC-256\"");
    EXPECT_EQ(
        first_error("[nts]\naead_algorithms = [\"AES-SIV-CMAC-256\", \"AES-SIV-CMAC-256\"]\n"),
        "test.toml:2:40: nts.aead_algorithms: 'AES-SIV-CMAC-256' twice");
    EXPECT_EQ(first_error("[nts]\naead_algorithms = []\n"),
              "test.toml:2:19: nts.aead_algorithms: at least one algorithm");
    EXPECT_EQ(first_error("[nts]\naead_algorithms = \"AES-128-GCM-SIV\"\n"),
              "test.toml:2:19: nts.aead_algorithms: expected an array of strings, found a string");
}

// [metrics]: the Prometheus exporter, off unless listen is set.
TEST(Config, MetricsSection) {
    ParseResult r = parse("[clock]\nadjust = false\n");
    ASSERT_TRUE(r.config);
    EXPECT_FALSE(r.config->metrics.enabled()) << "off unless listen is set";
    r = parse(
        "[metrics]\nlisten = [\"127.0.0.1\", \"[::1]:19975\"]\ncertificate = \"/m.crt\"\n"
        "private_key = \"/m.key\"\nmax_connections = 4\ntimeout = 2.5\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    const MetricsConfig& m = r.config->metrics;
    ASSERT_EQ(m.listen.size(), 2u);
    EXPECT_EQ(m.listen[0].port, 9975) << "9975 unless given";
    EXPECT_EQ(m.listen[1].port, 19975);
    EXPECT_TRUE(m.enabled());
    EXPECT_TRUE(m.tls());
    EXPECT_EQ(m.private_key, "/m.key");
    EXPECT_EQ(m.max_connections, 4u);
    EXPECT_DOUBLE_EQ(m.timeout, 2.5);
    EXPECT_EQ(first_error("[metrics]\nlisten = [\"127.0.0.1\"]\ncertificate = \"/m.crt\"\n"),
              "test.toml:1:1: [metrics] needs both certificate and private_key for TLS, or "
              "neither");
    EXPECT_EQ(first_error("[metrics]\npath = \"/x\"\n"),
              "test.toml:2:1: unknown key 'path' in [metrics]");
    EXPECT_EQ(first_error("[metrics]\ntimeout = 0\n"),
              "test.toml:2:11: metrics.timeout must be between 0.05 and 300, not 0");
}

// [broker]: the TCP services broker, off unless listen is set.
TEST(Config, BrokerSection) {
    ParseResult r = parse("[clock]\nadjust = false\n");
    ASSERT_TRUE(r.config);
    EXPECT_FALSE(r.config->broker.enabled()) << "off unless listen is set";
    EXPECT_EQ(r.config->broker.database, "/var/lib/nanotime/broker.db");
    r = parse(
        "[broker]\nlisten = [\"127.0.0.1\", \"[::1]:14461\"]\ncertificate = \"/b.crt\"\n"
        "private_key = \"/b.key\"\ndatabase = \"/b.db\"\nca_certificate = \"/ca.crt\"\n"
        "ca_key = \"/ca.key\"\nmax_connections = 20000\ntimeout = 2.5\nstate_interval = 10\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    const BrokerConfig& b = r.config->broker;
    ASSERT_EQ(b.listen.size(), 2u);
    EXPECT_EQ(b.listen[0].port, 4461) << "4461 unless given";
    EXPECT_EQ(b.listen[1].port, 14461);
    EXPECT_TRUE(b.enabled());
    EXPECT_EQ(b.certificate, "/b.crt");
    EXPECT_EQ(b.private_key, "/b.key");
    EXPECT_EQ(b.database, "/b.db");
    EXPECT_EQ(b.ca_certificate, "/ca.crt");
    EXPECT_EQ(b.ca_key, "/ca.key");
    EXPECT_EQ(b.max_connections, 20000u);
    EXPECT_DOUBLE_EQ(b.timeout, 2.5);
    EXPECT_EQ(b.state_interval, 10u);
    EXPECT_EQ(first_error("[broker]\nurl = \"/x\"\n"),
              "test.toml:2:1: unknown key 'url' in [broker]");
    EXPECT_EQ(first_error("[broker]\ndatabase = \"\"\n"),
              "test.toml:2:12: broker.database must not be empty");
    EXPECT_EQ(first_error("[broker]\nmax_connections = 0\n"),
              "test.toml:2:19: broker.max_connections must be between 1 and 100000, not 0");
    EXPECT_EQ(first_error("[broker]\nstate_interval = 0\n"),
              "test.toml:2:18: broker.state_interval must be between 1 and 3600, not 0");
}

// [broker_client]: off unless url is set; the url gives host and port.
TEST(Config, BrokerClientSection) {
    ParseResult r = parse("[clock]\nadjust = false\n");
    ASSERT_TRUE(r.config);
    EXPECT_FALSE(r.config->broker_client.enabled()) << "off unless url is set";
    r = parse(
        "[broker_client]\nurl = \"https://broker.example/\"\ncertificate = \"/m.crt\"\n"
        "private_key = \"/m.key\"\ntrusted_ca = \"/ca.pem\"\nstate_interval = 2\n"
        "allow_management = false\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    const BrokerClientConfig& b = r.config->broker_client;
    EXPECT_TRUE(b.enabled());
    EXPECT_EQ(b.host, "broker.example");
    EXPECT_EQ(b.port, 4461) << "4461 unless given";
    EXPECT_EQ(b.certificate, "/m.crt");
    EXPECT_EQ(b.private_key, "/m.key");
    EXPECT_EQ(b.trusted_ca, "/ca.pem");
    EXPECT_DOUBLE_EQ(b.state_interval, 2);
    EXPECT_FALSE(b.allow_management);
    r = parse(
        "[broker_client]\nurl = \"https://[::1]:14461\"\ncertificate = \"/m.crt\"\n"
        "private_key = \"/m.key\"\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    EXPECT_EQ(r.config->broker_client.host, "::1");
    EXPECT_EQ(r.config->broker_client.port, 14461);
    EXPECT_TRUE(r.config->broker_client.allow_management) << "on by default";
    EXPECT_DOUBLE_EQ(r.config->broker_client.state_interval, 0) << "the broker's by default";
    const std::string keys = "certificate = \"/m.crt\"\nprivate_key = \"/m.key\"\n";
    for (const char* bad :
         {"http://b", "https://", "https://b/v1", "https://b:0", "https://b:", "https://u@b",
          "https://b:65536", "https://[::1", "https://[::1]x", "https://::1", "https://b?x=1"}) {
        EXPECT_EQ(first_error("[broker_client]\nurl = \"" + std::string(bad) + "\"\n" + keys),
                  "test.toml:2:7: broker_client.url '" + std::string(bad) +
                      "' is not https://host[:port] (no path, user or query)");
    }
    EXPECT_EQ(first_error("[broker_client]\nurl = \"https://b\"\n"),
              "test.toml:1:1: [broker_client] has a url but no certificate or private_key (the "
              "member certificate the broker issued)");
    EXPECT_EQ(first_error("[broker_client]\n" + keys),
              "test.toml:1:1: [broker_client] has no url: say which broker to subscribe to");
    EXPECT_EQ(first_error("[broker_client]\nurl = \"https://b\"\n" + keys + "token = \"x\"\n"),
              "test.toml:5:1: unknown key 'token' in [broker_client]");
    EXPECT_EQ(
        first_error("[broker_client]\nurl = \"https://b\"\n" + keys + "state_interval = 0.5\n"),
        "test.toml:5:18: broker_client.state_interval must be 0 (the broker's) or 1 to "
        "3600 s");
    EXPECT_EQ(
        first_error("[broker_client]\nurl = \"https://b\"\n" + keys + "allow_management = 1\n"),
        "test.toml:5:20: broker_client.allow_management: expected a boolean, found an "
        "integer");
}

TEST(Config, NtsMistakesAreNamed) {
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nnts_port = 4460\n"),
              "test.toml:3:12: source.nts_port applies to 'nts = true' only");
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nnts = true\nxleave = true\n"),
              "test.toml:1:1: [[source]] nts and xleave cannot be combined");
    EXPECT_EQ(first_error("[nts_ke]\nlisten = [\"localhost\"]\n"),
              "test.toml:2:11: nts_ke.listen: 'localhost' is not an IP address with an "
              "optional :port");
    EXPECT_EQ(first_error("[nts_ke]\nlisten = [\"::1\"]\ncertificate = \"\"\n"),
              "test.toml:1:1: [nts_ke] listens but has no certificate or private_key");
    EXPECT_EQ(first_error("[nts]\nkey_rotation = 30\n"),
              "test.toml:2:16: nts.key_rotation must be 0 (keys from another host) or 60 to "
              "604800 s");
    EXPECT_EQ(first_error("[nts]\ncertificate_time_check = \"never\"\n"),
              "test.toml:2:26: nts.certificate_time_check must be one of \"always\", "
              "\"after_sync\", not \"never\"");
    EXPECT_EQ(first_error("[nts_ke]\nport = 4460\n"),
              "test.toml:2:1: unknown key 'port' in [nts_ke]");
}

// [nts_ke]'s NTS pool keys (CONFIG.md): defaults, values, and the mistakes
// that would leave a pool unauthenticated or unable to authenticate.
TEST(Config, NtsKePoolKeys) {
    ParseResult off = parse("[nts_ke]\nlisten = [\"::1\"]\n");
    ASSERT_TRUE(off.config);
    EXPECT_FALSE(off.config->nts_ke.pool_enabled());
    EXPECT_EQ(off.config->nts_ke.pool_max_requests, 1000u);
    EXPECT_DOUBLE_EQ(off.config->nts_ke.pool_idle_timeout, 300.0);
    EXPECT_EQ(off.config->nts_ke.pool_max_sessions, 10u);
    ParseResult r = parse(
        "[nts_ke]\nlisten = [\"::1\"]\npool_ca = \"/etc/pool-ca.pem\"\n"
        "pool_tokens = [\"abc123\", \"x-y_z\"]\npool_token_file = \"/etc/pool-tokens\"\n"
        "pool_max_requests = 50\npool_idle_timeout = 30.5\npool_max_sessions = 3\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    const NtsKeServerConfig& k = r.config->nts_ke;
    EXPECT_TRUE(k.pool_enabled());
    EXPECT_EQ(k.pool_ca, "/etc/pool-ca.pem");
    EXPECT_EQ(k.pool_tokens, (std::vector<std::string>{"abc123", "x-y_z"}));
    EXPECT_EQ(k.pool_token_file, "/etc/pool-tokens");
    EXPECT_EQ(k.pool_max_requests, 50u);
    EXPECT_DOUBLE_EQ(k.pool_idle_timeout, 30.5);
    EXPECT_EQ(k.pool_max_sessions, 3u);

    EXPECT_EQ(first_error("[nts_ke]\npool_ca = \"/ca.pem\"\n"),
              "test.toml:1:1: [nts_ke] pool_ca is set but there is no pool_tokens or "
              "pool_token_file: the pool could not authenticate");
    EXPECT_EQ(first_error("[nts_ke]\npool_tokens = [\"abc\"]\n"),
              "test.toml:1:1: [nts_ke] pool tokens without pool_ca: tokens alone do not "
              "authenticate a pool");
    EXPECT_EQ(
        first_error("[nts_ke]\npool_ca = \"/ca.pem\"\npool_tokens = [\"ok\", \"two words\"]\n"),
        "test.toml:3:22: nts_ke.pool_tokens: a token must be 1-256 printable ASCII "
        "characters without spaces");
    EXPECT_EQ(first_error("[nts_ke]\npool_max_requests = 0\n"),
              "test.toml:2:21: nts_ke.pool_max_requests must be between 1 and 1000000, not 0");
}

// The lowest poll allowed is 3 (8 s, below RFC 5905's MINPOLL of 4, for a
// LAN), the highest 17; CONFIG.md documents the same range.
TEST(Config, PollRangeIsThreeToSeventeen) {
    ParseResult r = parse("[[source]]\nserver = \"a\"\nminpoll = 3\nmaxpoll = 3\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    EXPECT_EQ(r.config->sources[0].source.minpoll, 3);
    EXPECT_EQ(r.config->sources[0].source.maxpoll, 3);
    r = parse("[[source]]\nserver = \"a\"\nminpoll = 17\nmaxpoll = 17\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nmaxpoll = 2\n"),
              "test.toml:3:11: source.maxpoll must be between 3 and 17, not 2");
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nmaxpoll = 18\n"),
              "test.toml:3:11: source.maxpoll must be between 3 and 17, not 18");
}

TEST(Config, ServerWorkers) {
    ParseResult r = parse("");
    ASSERT_TRUE(r.config);
    EXPECT_EQ(r.config->server.workers, 1);
    r = parse("[server]\nlisten = [\"127.0.0.1:123\"]\nallow = [\"127.0.0.1\"]\nworkers = 4\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    EXPECT_EQ(r.config->server.workers, 4);
    EXPECT_EQ(first_error("[server]\nworkers = 0\n"),
              "test.toml:2:11: server.workers must be between 1 and 64, not 0");
}

TEST(Config, RateLimitCanBeSwitchedOff) {
    ParseResult r = parse("[server.rate_limit]\nenabled = false\ninterval = 1\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    EXPECT_FALSE(r.config->server.rate_limit);
    // Switched off, its keys are still checked.
    EXPECT_EQ(first_error("[server.rate_limit]\nenabled = false\ninterval = 0\n"),
              "test.toml:3:12: server.rate_limit.interval must be between 0.001 and 3600, not 0");
}

TEST(Config, SemanticErrors) {
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nminpoll = 10\nmaxpoll = 6\n"),
              "test.toml:1:1: [[source]] minpoll (10) exceeds maxpoll (6)");
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\npool = \"b\"\n"),
              "test.toml:1:1: [[source]] needs exactly one of 'server' or 'pool'");
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\"\nmax_sources = 3\n"),
              "test.toml:3:15: source.max_sources applies to 'pool' sources only");
    EXPECT_EQ(first_error("[server]\nlisten = [\"host.example:123\"]\nallow = [\"::/0\"]\n"),
              "test.toml:2:11: server.listen: 'host.example:123' is not an IP address with an "
              "optional :port");
    // What inet_pton(3) refuses is refused here too, where start-up would
    // have failed: leading zeros (octal to some parsers), short and hex forms.
    for (const char* bad : {"010.0.0.1", "010.0.0.1:123", "127.1", "0x7f.0.0.1", "[::1]:0",
                            "1.2.3.4:", "[10.0.0.1]:123", "1.2.3.4:123:5"}) {
        EXPECT_EQ(
            first_error(std::string("[server]\nlisten = [\"") + bad + "\"]\nallow = [\"::/0\"]\n"),
            std::string("test.toml:2:11: server.listen: '") + bad +
                "' is not an IP address with an optional :port");
    }
    EXPECT_EQ(first_error("[server]\nallow = [\"010.0.0.0/8\"]\n"),
              "test.toml:2:10: server.allow: '010.0.0.0/8' is not an address or CIDR prefix");
    EXPECT_EQ(first_error("[server]\nallow = [\"10.0.0.0/33\"]\n"),
              "test.toml:2:10: server.allow: '10.0.0.0/33' is not an address or CIDR prefix");
    EXPECT_EQ(first_error("[server]\nlisten = [\"127.0.0.1\"]\n"),
              "test.toml:1:1: [server] listens but 'allow' is empty: it would answer nobody");
    EXPECT_EQ(first_error("[clock]\nbackend = \"nanoclock\"\ndevice = \"nanoclock0\"\n"),
              "test.toml:1:1: clock.device must be an absolute path for the nanoclock backend");
    EXPECT_EQ(
        first_error("[control]\nsocket = \"relative.sock\"\n"),
        "test.toml:1:1: control.socket must be an absolute path of at most 107 bytes (or empty)");
    EXPECT_EQ(first_error("source = { server = \"a\" }\n"),
              "test.toml:1:10: source: expected an array of tables ([[source]])");
}

TEST(Config, PpsEntriesAreRead) {
    ParseResult r = parse(R"(
[clock]
backend = "nanoclock"

[[pps]]
source = "gpio0"
frequency = false

[[pps]]
source = "bridge0"
device = "/dev/pps1"
edge = "clear"
offset = 150e-9
)");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    const auto& pps = r.config->pps;
    ASSERT_EQ(pps.size(), 2u);
    EXPECT_EQ(pps[0].source, "gpio0");
    EXPECT_TRUE(pps[0].device.empty());
    EXPECT_TRUE(pps[0].pps_time);
    EXPECT_FALSE(pps[0].pps_frequency);
    EXPECT_EQ(pps[0].line, 5u);
    EXPECT_EQ(pps[1].source, "bridge0");
    EXPECT_EQ(pps[1].device, "/dev/pps1");
    EXPECT_EQ(pps[1].edge, PpsEdgeKind::Clear);
    EXPECT_DOUBLE_EQ(pps[1].offset, 150e-9);
    EXPECT_TRUE(pps[1].pps_frequency);
}

TEST(Config, PpsErrorsNameTheLine) {
    const std::string nanoclock = "[clock]\nbackend = \"nanoclock\"\n";
    // PPS disciplines the nanoclock only.
    EXPECT_EQ(first_error("[[pps]]\nsource = \"gpio0\"\n"),
              "test.toml:1:1: [[pps]] needs clock.backend = \"nanoclock\": PPS disciplines the "
              "nanoclock");
    EXPECT_NE(first_error(nanoclock + "[[pps]]\ndevice = \"/dev/pps0\"\n")
                  .find("test.toml:3:1: [[pps]] needs 'source'"),
              std::string::npos);
    EXPECT_NE(first_error(nanoclock + "[[pps]]\nsource = \"a b\"\n").find("needs 'source'"),
              std::string::npos);
    EXPECT_EQ(first_error(nanoclock + "[[pps]]\nsource = \"bridge0\"\ndevice = \"pps0\"\n"),
              "test.toml:5:10: pps.device must be an absolute path");
    EXPECT_NE(first_error(nanoclock + "[[pps]]\nsource = \"gpio0\"\nedge = \"clear\"\n")
                  .find("apply to bridged devices ('device') only"),
              std::string::npos);
    EXPECT_NE(first_error(nanoclock + "[[pps]]\nsource = \"b\"\ndevice = \"/dev/pps0\"\n"
                                      "offset = 0.02\n")
                  .find("pps.offset must be between"),
              std::string::npos);
    EXPECT_NE(first_error(nanoclock + "[[pps]]\nsource = \"gpio0\"\nkind = 1\n")
                  .find("unknown key 'kind' in [[pps]]"),
              std::string::npos);
    EXPECT_NE(first_error(nanoclock + "[[pps]]\nsource = \"gpio0\"\n[[pps]]\nsource = "
                                      "\"gpio0\"\n")
                  .find("test.toml:5:1: [[pps]] source 'gpio0' is configured twice (line 3)"),
              std::string::npos);
    EXPECT_NE(first_error(nanoclock + "[[pps]]\nsource = \"bridge0\"\ndevice = \"/dev/pps0\"\n"
                                      "[[pps]]\nsource = \"bridge1\"\ndevice = \"/dev/pps0\"\n")
                  .find("device '/dev/pps0' is bridged twice (line 3)"),
              std::string::npos);
    EXPECT_NE(first_error("pps = 3\n" + nanoclock).find("expected an array of tables"),
              std::string::npos);
}

TEST(Config, RandomSeedIsForSimulationsOnly) {
    ParseResult unset = parse("");
    ASSERT_TRUE(unset.config);
    EXPECT_FALSE(unset.config->service.random_seed.has_value());  // the CSPRNG by default
    ParseResult r = parse("[service]\nrandom_seed = 42\n");
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    EXPECT_EQ(r.config->service.random_seed, std::optional<uint64_t>(42));
    ParseResult zero = parse("[service]\nrandom_seed = 0\n");
    ASSERT_TRUE(zero.config);
    EXPECT_EQ(zero.config->service.random_seed, std::optional<uint64_t>(0));
    EXPECT_EQ(first_error("[service]\nrandom_seed = -1\n"),
              "test.toml:2:15: service.random_seed must be between 0 and 9223372036854775807, "
              "not -1");
    EXPECT_EQ(first_error("[service]\nrandom_seed = \"7\"\n").find("test.toml:2:"), 0u);
}

TEST(Config, SyntaxErrorHasPosition) {
    ParseResult r = parse("[clock]\nstep_threshold = = 1\n");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].line, 2u);
    EXPECT_GT(r.errors[0].column, 0u);
    EXPECT_EQ(r.errors[0].to_string().rfind("test.toml:2:", 0), 0u);
}

TEST(Config, NonAsciiIsRefusedOutsideComments) {
    // toml++ 3.3.0 has undefined behaviour on some non-ASCII input (found by
    // tests/fuzz/config_fuzz): it never sees any.
    EXPECT_EQ(first_error("[[source]]\npool\xcd\x9a = \"x\"\n"),
              "test.toml:2:5: non-ASCII character: nanotimed's configuration must be ASCII outside "
              "comments");
    EXPECT_EQ(first_error("s = \"\"\"\\\n\xc2\xa7\"\"\"\n"),
              "test.toml:2:1: non-ASCII character: nanotimed's configuration must be ASCII outside "
              "comments");
    EXPECT_EQ(first_error("\xcc\xaa"),
              "test.toml:1:1: non-ASCII character: nanotimed's configuration must be ASCII outside "
              "comments");
    ParseResult ok = parse(
        "# Zeitserver \xc2\xa7 \"quoted\n[clock] # \xe2\x80\x80\nstep_threshold = 1 # '\xc2\xa7\n");
    EXPECT_TRUE(ok.config) << (ok.errors.empty() ? "" : ok.errors[0].to_string());
    // A '#' inside a string is not a comment.
    EXPECT_FALSE(parse("[control]\ngroup = \"#\xc2\xa7\"\n").config);
}

TEST(Config, AllErrorsAreCollected) {
    ParseResult r = parse("a = 1\nb = 2\n[log]\nlevel = \"loud\"\n");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(r.errors.size(), 3u);
}

TEST(Config, MissingFileIsOneError) {
    ParseResult r = load_config("/nonexistent/nanotimed.toml");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].to_string(), "/nonexistent/nanotimed.toml: cannot read the file");
}

}  // namespace
}  // namespace nanotime::config

namespace nanotime::config {
namespace {

TEST(Config, RefclocksAreRead) {
    ParseResult r = parse(R"([[refclock]]
driver = "sock"
path = "/run/nanotime/gps0.sock"
refid = "GPS"
poll = 2
filter = 16
offset = 0.12
delay = 0.2
precision = -10
prefer = true

[[refclock]]
driver = "shm"
unit = 2
noselect = true
)");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
    const auto& refs = r.config->refclocks;
    ASSERT_EQ(refs.size(), 2u);
    EXPECT_EQ(refs[0].driver, RefclockDriver::Sock);
    EXPECT_EQ(refs[0].path, "/run/nanotime/gps0.sock");
    EXPECT_EQ(refs[0].refid, "GPS");
    EXPECT_EQ(refs[0].refclock.reference_id, 0x47505300u);
    EXPECT_EQ(refs[0].refclock.poll, 2);
    EXPECT_EQ(refs[0].refclock.filter, 16u);
    EXPECT_DOUBLE_EQ(refs[0].refclock.offset, 0.12);
    EXPECT_DOUBLE_EQ(refs[0].refclock.delay, 0.2);
    EXPECT_EQ(refs[0].refclock.precision, -10);
    EXPECT_TRUE(refs[0].refclock.prefer);
    EXPECT_EQ(refs[0].line, 1u);
    EXPECT_EQ(refs[1].driver, RefclockDriver::Shm);
    EXPECT_EQ(refs[1].unit, 2u);
    EXPECT_EQ(refs[1].refid, "SHM2");  // the default
    EXPECT_EQ(refs[1].refclock.reference_id, 0x53484d32u);
    EXPECT_TRUE(refs[1].refclock.noselect);
    EXPECT_EQ(refs[1].refclock.poll, 4);  // the defaults
    EXPECT_EQ(refs[1].refclock.filter, 64u);
}

TEST(Config, RefclockMistakesAreNamedWithTheirLine) {
    EXPECT_EQ(first_error("[[refclock]]\npath = \"/run/a.sock\"\n"),
              "test.toml:1:1: [[refclock]] needs 'driver' (\"sock\", \"shm\", \"pps\" or \"phc\")");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"nmea\"\npath = \"/run/a.sock\"\n"),
              "test.toml:2:10: refclock.driver must be one of \"sock\", \"shm\", \"pps\", \"phc\", "
              "not "
              "\"nmea\"");
    EXPECT_EQ(first_error("\n[[refclock]]\ndriver = \"sock\"\n"),
              "test.toml:2:1: [[refclock]] driver \"sock\" needs 'path', an absolute path for the "
              "socket nanotimed creates");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"shm\"\n"),
              "test.toml:1:1: [[refclock]] driver \"shm\" needs 'unit' (segment 0-3)");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"shm\"\nunit = 4\n"),
              "test.toml:3:8: refclock.unit must be between 0 and 3, not 4");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"shm\"\nunit = 1\npath = \"/x\"\n"),
              "test.toml:4:8: refclock.path applies to drivers \"sock\", \"pps\" and \"phc\" only");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"sock\"\npath = \"/a\"\nrefid = \"GPSXX\"\n"),
              "test.toml:4:9: refclock.refid must be 1 to 4 printable ASCII characters, not "
              "\"GPSXX\"");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"sock\"\npath = \"/a\"\nrefid = \"G S\"\n"),
              "test.toml:4:9: refclock.refid must be 1 to 4 printable ASCII characters, not "
              "\"G S\"");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"sock\"\npath = \"/a\"\npoll = 11\n"),
              "test.toml:4:8: refclock.poll must be between 0 and 10, not 11");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"sock\"\npath = \"/a\"\nlock = \"GPS\"\n"),
              "test.toml:4:8: refclock.lock applies to driver \"pps\" only");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"shm\"\nunit = 2\n[[refclock]]\ndriver = "
                          "\"shm\"\nunit = 2\n"),
              "test.toml:4:1: [[refclock]] SHM unit 2 is configured twice (line 1)");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"phc\"\n"),
              "test.toml:1:1: [[refclock]] driver \"phc\" needs 'path', an absolute path of the "
              "PTP hardware clock (\"/dev/ptp0\")");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"sock\"\npath = \"/a\"\nnocrossts = true\n"),
              "test.toml:4:13: refclock.nocrossts applies to driver \"phc\" only");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"phc\"\npath = \"/dev/ptp0\"\nlock = \"GPS\"\n"),
              "test.toml:4:8: refclock.lock applies to driver \"pps\" only");
}

TEST(Config, PhcRefclocksAreRead) {
    ParseResult r = parse(R"([[refclock]]
driver = "phc"
path = "/dev/ptp0"
poll = 2
nocrossts = true
trust = true

[[refclock]]
driver = "phc"
path = "/dev/ptp1"
refid = "NIC1"
)");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
    const auto& refs = r.config->refclocks;
    ASSERT_EQ(refs.size(), 2u);
    EXPECT_EQ(refs[0].driver, RefclockDriver::Phc);
    EXPECT_EQ(refs[0].path, "/dev/ptp0");
    EXPECT_EQ(refs[0].refid, "PHC");  // the default
    EXPECT_EQ(refs[0].refclock.reference_id, 0x50484300u);
    EXPECT_EQ(refs[0].refclock.poll, 2);
    EXPECT_TRUE(refs[0].nocrossts);
    EXPECT_TRUE(refs[0].refclock.trust);
    EXPECT_FALSE(refs[0].refclock.pulse);
    EXPECT_EQ(refs[1].refid, "NIC1");
    EXPECT_FALSE(refs[1].nocrossts);
}

// Drop-ins: [[...]] arrays gain entries, tables merge key by key (the later
// file wins), and an error names the drop-in file and its line.
TEST(Config, DropInsMergeInOrderAndNameTheirLines) {
    const std::vector<DropIn> drop_ins = {
        {"/etc/nanotime/nanotimed.d/10-lan.toml",
         "[[source]]\nserver = \"192.0.2.10\"\n\n[control]\nmode = 0o660\n"},
        {"/etc/nanotime/nanotimed.d/20-pool.toml",
         "[[source]]\npool = \"pool.example\"\n[control]\nmode = 0o640\n"},
    };
    ParseResult r = parse_config("[[source]]\nserver = \"192.0.2.1\"\n[control]\ngroup = \"ntp\"\n",
                                 "/etc/nanotime/nanotimed.toml", drop_ins);
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    ASSERT_EQ(r.config->sources.size(), 3u);
    EXPECT_EQ(r.config->sources[0].address, "192.0.2.1");
    EXPECT_EQ(r.config->sources[1].address, "192.0.2.10");
    EXPECT_EQ(r.config->sources[2].address, "pool.example");
    EXPECT_EQ(r.config->control.group, "ntp");  // kept from the main file
    EXPECT_EQ(r.config->control.mode, 0640u);   // the later drop-in wins

    // A mistake in a drop-in: its file and line, not the main file's.
    ParseResult bad =
        parse_config("[[source]]\nserver = \"192.0.2.1\"\n", "/etc/nanotime/nanotimed.toml",
                     {{"/etc/nanotime/nanotimed.d/30-bad.toml",
                       "# a comment\n[[source]]\nserver = \"192.0.2.2\"\nminpol = 4\n"}});
    ASSERT_FALSE(bad.config);
    EXPECT_EQ(bad.errors.front().to_string(),
              "/etc/nanotime/nanotimed.d/30-bad.toml:4:1: unknown key 'minpol' in [[source]]");
    bad = parse_config("", "/etc/nanotime/nanotimed.toml",
                       {{"/etc/nanotime/nanotimed.d/40-syntax.toml", "\n[[source]\n"}});
    ASSERT_FALSE(bad.config);
    EXPECT_EQ(bad.errors.front().file, "/etc/nanotime/nanotimed.d/40-syntax.toml");
    EXPECT_EQ(bad.errors.front().line, 2u);
}

TEST(Config, DropInDirectoryIsReadInNameOrder) {
    EXPECT_EQ(drop_in_dir("/etc/nanotime/nanotimed.toml"), "/etc/nanotime/nanotimed.d");
    EXPECT_EQ(drop_in_dir("/srv/ntp.conf"), "/srv/ntp.conf.d");
    char dir[] = "/tmp/nanotime-dropin-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string main = std::string(dir) + "/nanotimed.toml";
    const std::string d = std::string(dir) + "/nanotimed.d";
    auto write = [](const std::string& path, const std::string& text) {
        FILE* f = fopen(path.c_str(), "w");
        ASSERT_NE(f, nullptr);
        fputs(text.c_str(), f);
        fclose(f);
    };
    write(main, "[[source]]\nserver = \"192.0.2.1\"\n");
    // No directory: the main file alone.
    ParseResult r = load_config(main);
    ASSERT_TRUE(r.config);
    EXPECT_EQ(r.config->sources.size(), 1u);
    ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
    write(d + "/b.toml", "[[source]]\nserver = \"192.0.2.3\"\n");
    write(d + "/a.toml", "[[source]]\nserver = \"192.0.2.2\"\n");
    write(d + "/c.toml.tmp", "not toml at all");  // being written: not read
    write(d + "/README", "not toml either");
    r = load_config(main);
    ASSERT_TRUE(r.config) << r.errors.front().to_string();
    ASSERT_EQ(r.config->sources.size(), 3u);
    EXPECT_EQ(r.config->sources[1].address, "192.0.2.2");
    EXPECT_EQ(r.config->sources[2].address, "192.0.2.3");
    write(d + "/b.toml", "[[source]]\nserver = \"192.0.2.3\"\nport = 0\n");
    r = load_config(main);
    ASSERT_FALSE(r.config);
    EXPECT_EQ(r.errors.front().file, d + "/b.toml");
    EXPECT_EQ(r.errors.front().line, 3u);
    std::filesystem::remove_all(dir);
}

// The run-time sources file: [[source]] tables only, checked as in the
// configuration; what format_sources_file writes reads back the same.
TEST(Config, SourcesFileRoundTripsAndRefusesOtherTables) {
    ParseResult c = parse(
        "[[source]]\nserver = \"192.0.2.1\"\nminpoll = 4\nmaxpoll = 7\niburst = true\n"
        "xleave = true\ntrust = true\nport = 1123\n"
        "[[source]]\npool = \"pool.example\"\nmax_sources = 3\nnts = true\nnts_port = 4461\n"
        "[[source]]\nserver = \"fe80::1%eth0\"\n");
    ASSERT_TRUE(c.config) << c.errors.front().to_string();
    const std::string text = format_sources_file(c.config->sources);
    SourcesFileResult back = parse_sources_file(text, "/var/lib/nanotime/sources.toml");
    ASSERT_TRUE(back.errors.empty()) << back.errors.front().to_string() << "\n" << text;
    ASSERT_EQ(back.sources.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(same_source(back.sources[i], c.config->sources[i])) << i << "\n" << text;
        EXPECT_EQ(back.sources[i].file, "/var/lib/nanotime/sources.toml");
    }
    EXPECT_EQ(back.sources[2].address, "fe80::1%eth0");
    // Quotes and control characters are no host name.
    EXPECT_EQ(first_error("[[source]]\nserver = \"a\\\"b\"\n"),
              "test.toml:1:1: [[source]] 'a\"b' is not a host name or address");
    // The configuration's sources carry their file and line.
    EXPECT_EQ(c.config->sources[1].file, "test.toml");
    EXPECT_EQ(c.config->sources[1].line, 9u);

    // Anything but [[source]] is refused, with its place.
    back = parse_sources_file("[[source]]\nserver = \"192.0.2.1\"\n[control]\ngroup = \"x\"\n",
                              "s.toml");
    ASSERT_FALSE(back.errors.empty());
    EXPECT_TRUE(back.sources.empty());
    EXPECT_NE(back.errors.front().to_string().find("unknown key 'control'"), std::string::npos)
        << back.errors.front().to_string();
    back = parse_sources_file("[[source]]\nserver = \"192.0.2.1\"\nminpoll = 2\n", "s.toml");
    ASSERT_FALSE(back.errors.empty());
    EXPECT_EQ(back.errors.front().file, "s.toml");
    EXPECT_EQ(back.errors.front().line, 3u);
    back = parse_sources_file("[[source]\n", "s.toml");
    ASSERT_FALSE(back.errors.empty());
    EXPECT_EQ(back.errors.front().line, 1u);
    // An empty list writes a file that reads as no sources.
    back = parse_sources_file(format_sources_file({}), "s.toml");
    EXPECT_TRUE(back.errors.empty());
    EXPECT_TRUE(back.sources.empty());

    // A missing file is no sources; a present one is read.
    char dir[] = "/tmp/nanotime-sources-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/sources.toml";
    back = load_sources_file(path);
    EXPECT_TRUE(back.errors.empty());
    EXPECT_TRUE(back.sources.empty());
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(text.c_str(), f);
    fclose(f);
    back = load_sources_file(path);
    EXPECT_TRUE(back.errors.empty());
    EXPECT_EQ(back.sources.size(), 3u);
    std::filesystem::remove_all(dir);

    EXPECT_EQ(first_error("[control]\nsources_file = \"relative.toml\"\n"),
              "test.toml:1:1: control.sources_file must be an absolute path (or empty)");
    EXPECT_TRUE(parse("[control]\nsources_file = \"\"\n").config);
}

TEST(Config, PpsRefclocksAndTheirLock) {
    ParseResult r = parse(R"([[refclock]]
driver = "sock"
path = "/run/gps0.sock"
refid = "NMEA"
offset = 0.2

[[refclock]]
driver = "pps"
path = "/dev/pps0"
lock = "NMEA"
edge = "clear"
prefer = true
)");
    ASSERT_TRUE(r.config);
    const auto& refs = r.config->refclocks;
    ASSERT_EQ(refs.size(), 2u);
    EXPECT_FALSE(refs[0].refclock.pulse);
    EXPECT_FALSE(refs[0].refclock.lock);
    EXPECT_EQ(refs[1].driver, RefclockDriver::Pps);
    EXPECT_EQ(refs[1].path, "/dev/pps0");
    EXPECT_EQ(refs[1].edge, PpsEdgeKind::Clear);
    EXPECT_EQ(refs[1].refid, "PPS");  // the default
    EXPECT_EQ(refs[1].refclock.reference_id, 0x50505300u);
    EXPECT_TRUE(refs[1].refclock.pulse);
    ASSERT_TRUE(refs[1].refclock.lock);
    EXPECT_EQ(*refs[1].refclock.lock, 0x4e4d4541u);  // "NMEA"
    EXPECT_FALSE(refs[1].refclock.trust);
}

TEST(Config, TrustIsReadForSourcesAndRefclocks) {
    ParseResult r = parse(R"([[source]]
server = "192.0.2.1"
trust = true

[[source]]
server = "192.0.2.2"

[[refclock]]
driver = "shm"
unit = 2
trust = true
)");
    ASSERT_TRUE(r.config);
    ASSERT_EQ(r.config->sources.size(), 2u);
    EXPECT_TRUE(r.config->sources[0].source.trust);
    EXPECT_FALSE(r.config->sources[1].source.trust);
    EXPECT_FALSE(same_source(r.config->sources[0], r.config->sources[1]));
    ASSERT_EQ(r.config->refclocks.size(), 1u);
    EXPECT_TRUE(r.config->refclocks[0].refclock.trust);
    EXPECT_EQ(first_error("[[source]]\nserver = \"192.0.2.1\"\ntrust = 1\n"),
              "test.toml:3:9: source.trust: expected a boolean, found an integer");
}

TEST(Config, PpsRefclockMistakesAreNamedWithTheirLine) {
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"pps\"\n"),
              "test.toml:1:1: [[refclock]] driver \"pps\" needs 'path', an absolute path of the "
              "PPS device (\"/dev/pps0\")");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"pps\"\npath = \"/dev/pps0\"\nedge = \"up\"\n"),
              "test.toml:4:8: refclock.edge must be one of \"assert\", \"clear\", not \"up\"");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"shm\"\nunit = 2\nedge = \"clear\"\n"),
              "test.toml:4:8: refclock.edge applies to driver \"pps\" only");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"pps\"\npath = \"/dev/pps0\"\nlock = \"GPS\"\n"),
              "test.toml:4:8: refclock.lock \"GPS\" is not the refid of another [[refclock]]");
    EXPECT_EQ(
        first_error("[[refclock]]\ndriver = \"pps\"\npath = \"/dev/pps0\"\nrefid = \"PPS0\"\n"
                    "[[refclock]]\ndriver = \"pps\"\npath = \"/dev/pps1\"\nlock = \"PPS0\"\n"),
        "test.toml:8:8: refclock.lock \"PPS0\" is a pulse itself: lock to a refclock that "
        "gives the time (sock, shm or phc)");
    EXPECT_EQ(first_error("[[refclock]]\ndriver = \"pps\"\npath = \"/dev/pps0\"\n[[refclock]]\n"
                          "driver = \"pps\"\npath = \"/dev/pps0\"\nrefid = \"PPS1\"\n"),
              "test.toml:4:1: [[refclock]] path '/dev/pps0' is configured twice (line 1)");
    EXPECT_EQ(
        first_error("[[refclock]]\ndriver = \"shm\"\nunit = 2\n[[refclock]]\ndriver = "
                    "\"shm\"\nunit = 3\nrefid = \"SHM2\"\n[[refclock]]\ndriver = \"pps\"\n"
                    "path = \"/dev/pps0\"\nlock = \"SHM2\"\n"),
        "test.toml:11:8: refclock.lock \"SHM2\" names 2 refclocks: give them distinct refids");
}

}  // namespace
}  // namespace nanotime::config
