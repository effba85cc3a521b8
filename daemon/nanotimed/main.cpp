// nanotimed - the nanotime NTP daemon.
//
//   nanotimed [--config FILE] [--check-config] [--io-backend auto|io_uring|poll]
//             [--no-privilege-drop] [--no-seccomp]
//   nanotimed [--config FILE] --broker-token NAME [--broker-role ROLE]
//             (mints a bearer token in the [broker] database, prints it, exits)
//
// Start-up: configuration -> logging -> event loop -> clock -> sockets
// (privileged) -> privilege drop -> seccomp -> sources -> READY=1 -> loop.
//
// Randomness: the kernel CSPRNG (getrandom), or with [service] random_seed
// (simulation and testing only) a seeded SplitMix64, so that simulator runs
// repeat.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>

#include "config/config.hpp"
#include "io/syscalls.hpp"
#include "nanotimed/daemon.hpp"
#include "nanotimed/hardening.hpp"
#include "nanotimed/openssl_on_demand.hpp"
#include "nanotimed/service_notify.hpp"
#include "util/kernel_random.hpp"
#include "util/random.hpp"

namespace {

using namespace nanotime;

// Whether this configuration calls OpenSSL from the start: a server (the
// rate limiter's SipHash, NTS cookies), an NTS-KE server, an NTS source,
// metrics over TLS or a broker subscription.
bool uses_openssl(const config::Config& cfg) {
    if (cfg.server.enabled() || cfg.nts_ke.enabled()) return true;
    if (cfg.metrics.enabled() && cfg.metrics.tls()) return true;
    if (cfg.broker.enabled()) return true;
    if (cfg.broker_client.enabled()) return true;
    for (const config::SourceEntry& s : cfg.sources)
        if (s.nts) return true;
    return false;
}

spdlog::level::level_enum to_spdlog(config::LogLevel l) {
    switch (l) {
        case config::LogLevel::Trace:
            return spdlog::level::trace;
        case config::LogLevel::Debug:
            return spdlog::level::debug;
        case config::LogLevel::Info:
            return spdlog::level::info;
        case config::LogLevel::Warn:
            return spdlog::level::warn;
        case config::LogLevel::Error:
            return spdlog::level::err;
        case config::LogLevel::Off:
            return spdlog::level::off;
    }
    return spdlog::level::info;
}

io::BackendChoice to_loop(config::IoBackendChoice c) {
    switch (c) {
        case config::IoBackendChoice::IoUring:
            return io::BackendChoice::IoUring;
        case config::IoBackendChoice::Poll:
            return io::BackendChoice::Poll;
        case config::IoBackendChoice::Auto:
            break;
    }
    return io::BackendChoice::Auto;
}

std::shared_ptr<spdlog::logger> make_logger(const config::LogConfig& c) {
    std::shared_ptr<spdlog::sinks::sink> sink;
    if (c.file.empty()) {
        sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    } else {
        sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(c.file);
    }
    auto logger = std::make_shared<spdlog::logger>("nanotimed", sink);
    // Under systemd the journal adds its own time stamp.
    if (c.file.empty() && getenv("JOURNAL_STREAM") != nullptr) {
        logger->set_pattern("%l: %v");
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%f%z %l %v");
    }
    logger->set_level(to_spdlog(c.level));
    logger->flush_on(spdlog::level::trace);
    return logger;
}

}  // namespace

// A function-try-block: an exception outside the run proper (option or
// configuration parsing, out of memory) ends in a message and status 1, not
// in std::terminate.
int main(int argc, char** argv) try {
    CLI::App app{
        "nanotimed - NTP client and server disciplining the nanoclock or the system clock"};
    std::string config_path = config::kDefaultPath;
    bool check_only = false;
    std::string io_backend;
    bool no_drop = false;
    bool no_seccomp = false;
    app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
    app.add_flag("--check-config", check_only, "check the configuration and exit (0: valid)");
    app.add_option("--io-backend", io_backend, "override io.backend")
        ->check(CLI::IsMember({"auto", "io_uring", "poll"}));
    app.add_flag("--no-privilege-drop", no_drop, "stay root (debugging)");
    app.add_flag("--no-seccomp", no_seccomp, "do not install the seccomp filter (debugging)");
    std::string broker_token;
    std::string broker_role = "admin";
    app.add_option("--broker-token", broker_token,
                   "mint a bearer token named NAME in the [broker] database, print it and exit "
                   "(the first admin token of a new broker)");
    app.add_option("--broker-role", broker_role, "role of the --broker-token token")
        ->check(CLI::IsMember({"monitor", "operator", "admin"}))
        ->capture_default_str();
    app.set_version_flag("--version", std::string("nanotimed ") + daemon::kVersion);
    app.footer(
        "Simulation and testing: [service] random_seed = N in the configuration makes the "
        "daemon's random choices reproducible (SplitMix64 seeded with N instead of the kernel "
        "CSPRNG). It makes request cookies predictable: never on a real host. See CONFIG.md.");
    CLI11_PARSE(app, argc, argv);

    config::ParseResult parsed = config::load_config(config_path);
    if (!parsed.config) {
        for (const config::ConfigError& e : parsed.errors) std::cerr << e.to_string() << "\n";
        std::cerr << "nanotimed: " << parsed.errors.size() << " error(s) in " << config_path
                  << "\n";
        return 1;
    }
    config::Config cfg = std::move(*parsed.config);
    if (io_backend == "poll") cfg.io.backend = config::IoBackendChoice::Poll;
    if (io_backend == "io_uring") cfg.io.backend = config::IoBackendChoice::IoUring;
    if (io_backend == "auto") cfg.io.backend = config::IoBackendChoice::Auto;
    if (!broker_token.empty()) {
        daemon::load_openssl();
        return daemon::mint_broker_token(cfg.broker, broker_token, broker_role, std::cout,
                                         std::cerr);
    }
    if (check_only) {
        std::cout << config_path << ": valid (" << cfg.sources.size() << " sources, server "
                  << (cfg.server.enabled() ? "on" : "off") << ", clock "
                  << config::to_string(cfg.clock.backend) << ", io "
                  << config::to_string(cfg.io.backend);
        if (cfg.service.random_seed) {
            std::cout << ", random_seed " << *cfg.service.random_seed << " (testing only)";
        }
        std::cout << ")\n";
        return 0;
    }

    try {
        io::RateLimitedLog log({cfg.log.rate_limit_burst, cfg.log.rate_limit_period},
                               make_logger(cfg.log));
        io::LoopOptions lo;
        lo.choice = to_loop(cfg.io.backend);
        lo.ring_entries = cfg.io.ring_entries;
        lo.buffer_count = cfg.io.receive_buffers;
        std::string note;
        std::unique_ptr<io::EventLoop> loop = io::make_event_loop(lo, &note);
        log.info(io::LogClass::General, "event loop: " + loop->describe() + " (" + note + ")");
        // Each fallback the loop (or the resolver) takes, once.
        loop->set_fallback_log(
            [&log](const std::string& what) { log.warn(io::LogClass::Io, what); });

        std::string why;
        if (!cfg.control.socket.empty() &&
            !io::unix_stream_sockets_available(loop->syscalls(), &why)) {
            log.warn(io::LogClass::General,
                     "no control socket: " + why + " (nanotimectl cannot reach this daemon)");
            cfg.control.socket.clear();
        }

        std::unique_ptr<io::ClockBackend> clock;
        if (cfg.clock.backend == config::ClockBackendKind::Nanoclock) {
            clock = std::make_unique<io::NanoClock>(cfg.clock.device);
        } else {
            clock = std::make_unique<io::SystemClock>();
        }
        if (!cfg.clock.adjust) clock = std::make_unique<io::ReadOnlyClock>(std::move(clock));

        std::unique_ptr<ntp::RandomSource> random;
        if (cfg.service.random_seed) {
            random = std::make_unique<ntp::SplitMix64>(*cfg.service.random_seed);
            log.warn(io::LogClass::General,
                     "service.random_seed = " + std::to_string(*cfg.service.random_seed) +
                         ": predictable random choices (request cookies), for simulation and "
                         "testing only");
        } else {
            random = std::make_unique<ntp::KernelRandom>();
        }
        // OpenSSL only for what needs it (nanotimed/openssl_on_demand.hpp):
        // loaded here, before the seccomp filter and privilege drop, when the
        // configuration serves (SipHash, NTS), uses NTS or serves metrics
        // over TLS; a plain client never loads it.
        if (uses_openssl(cfg)) daemon::load_openssl();
        daemon::Daemon d(cfg, config_path, std::move(loop), std::move(clock), log, *random);
        d.open_sockets();

        if (!no_drop) {
            const daemon::PrivilegeResult p =
                daemon::drop_privileges(cfg.service.user, cfg.server.uses_privileged_port());
            std::string caps;
            for (const std::string& c : p.capabilities) caps += (caps.empty() ? "" : ",") + c;
            log.info(io::LogClass::General, "running as uid " + std::to_string(getuid()) +
                                                " with capabilities [" + caps + "]");
        }
        if (!no_seccomp && cfg.service.seccomp != config::SeccompMode::Off) {
            daemon::install_seccomp(cfg.service.seccomp == config::SeccompMode::Enforce
                                        ? daemon::SeccompAction::Kill
                                        : daemon::SeccompAction::Log);
            log.info(io::LogClass::General, std::string("seccomp allow-list installed (") +
                                                config::to_string(cfg.service.seccomp) + ")");
        }

        d.start();
        d.on_status = [](const std::string& line) {
            daemon::notify_service_manager("STATUS=" + line);
        };
        // The watchdog ping re-arms itself through `pet`, which must live as
        // long as the loop runs (inside the if, the timer's copy called a
        // destroyed function at the second ping: the daemon crashed).
        std::function<void()> pet;
        if (const auto watchdog = daemon::service_watchdog_interval()) {
            const auto interval = *watchdog / 2;
            pet = [&d, &pet, interval] {
                daemon::notify_service_manager("WATCHDOG=1");
                d.loop().add_timer_after(interval, pet);
            };
            pet();
        }
        daemon::notify_service_manager("READY=1\nSTATUS=" + d.status_line());
        d.run();
        daemon::notify_service_manager("STOPPING=1");
        log.info(io::LogClass::General, "stopped");
    } catch (const std::exception& e) {
        std::cerr << "nanotimed: " << e.what() << "\n";
        daemon::notify_service_manager(std::string("STATUS=failed: ") + e.what());
        return 1;
    }
    return 0;
} catch (const std::exception& e) {
    std::cerr << "nanotimed: " << e.what() << "\n";
    return 1;
}
