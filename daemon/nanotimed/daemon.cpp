// daemon.cpp - nanotimed's wiring: the services made, started, reloaded and
// connected to signals and the control socket (see daemon.hpp).
#include "nanotimed/daemon.hpp"

#include <grp.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include "io/interface_stamping.hpp"

namespace nanotime::daemon {

using namespace std::chrono_literals;

Daemon::Daemon(config::Config config, std::string config_path, std::unique_ptr<io::EventLoop> loop,
               std::unique_ptr<io::ClockBackend> clock, io::RateLimitedLog& log,
               ntp::RandomSource& random)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      loop_(std::move(loop)),
      clock_(std::move(clock)),
      log_(log),
      random_(random),
      timescale_(*clock_, config_.clock.backend == config::ClockBackendKind::System),
      started_(std::chrono::steady_clock::now()),
      runtime_sources_(config_.control.sources_file),
      clock_manager_(
          std::make_unique<ClockManager>(config_.clock, *loop_, *clock_, timescale_, log_)),
      driver_(std::make_unique<ClientDriver>(config_, *loop_, timescale_, *clock_manager_, log_,
                                             random_, [this] { on_update(); })) {}

Daemon::~Daemon() {
    broker_client_.reset();  // its resolver thread stops
    broker_.reset();         // the broker thread stops
    metrics_.reset();        // the exporter thread stops
    nts_ke_.reset();         // the NTS-KE thread stops
    server_.reset();         // the worker threads stop
    control_.reset();
    clock_manager_->save_drift();
}

void Daemon::open_sockets() {
    // signalfd4 is not on the seccomp allow-list: set it up now.
    loop_->watch_signals({SIGTERM, SIGINT, SIGHUP}, [this](const signalfd_siginfo& si) {
        if (si.ssi_signo == SIGHUP) {
            log_.info(io::LogClass::General, "SIGHUP: reloading sources");
            reload();
        } else {
            log_.info(io::LogClass::General,
                      std::string("stopping on ") + strsignal(static_cast<int>(si.ssi_signo)));
            loop_->stop();
        }
    });
    interface_stamping_ = io::probe_interface_stamping(config_.io.hwtimestamp);
    for (const io::InterfaceStamping& i : interface_stamping_) {
        if (!i.hardware_requested && !i.hardware_capable) continue;
        log_.info(io::LogClass::General, "timestamping on " + i.name + ": RX " + i.rx + ", TX " +
                                             i.tx + " (" + i.reason + ")");
    }
    // NTS on the server side: as the NTS-KE host, or as an NTP server that
    // reads the key file another host writes ([nts] key_rotation = 0).
    if (config_.nts_ke.enabled() || (config_.server.enabled() && config_.nts.key_rotation == 0)) {
        nts_keys_ = std::make_unique<NtsKeyManager>(config_.nts, *loop_, log_, random_,
                                                    [this] { return unix_now(); });
    }
    if (config_.server.enabled()) {
        server_ = std::make_unique<ServerFrontEnd>(
            config_.server, config_.io, *loop_, timescale_, log_, random_,
            [this] { return driver_->served_state(); }, nts_keys_ ? &nts_keys_->shared() : nullptr);
    }
    open_nts();
    open_metrics();
    open_broker();
    open_control_socket();
    open_broker_client();
    open_kernel_link();  // /dev/ppsN may need the privileges we still have
    if (!config_.refclocks.empty()) {
        // Root-only SHM units and the 0600 socket need the privileges too.
        refclocks_ = std::make_unique<RefclockDevices>(
            config_.refclocks, *loop_, log_,
            [this](size_t index, const refclock::ParseOutcome& outcome) {
                driver_->refclock_outcome(index, outcome);
            });
        refclocks_->open();
    }
}

void Daemon::open_control_socket() {
    if (config_.control.socket.empty()) return;
    ctl::ControlServerOptions o;
    o.path = config_.control.socket;
    o.mode = config_.control.mode;
    if (!config_.control.group.empty()) {
        const group* g = getgrnam(config_.control.group.c_str());
        if (g == nullptr) {
            throw std::runtime_error("control.group: unknown group '" + config_.control.group +
                                     "'");
        }
        o.group = g->gr_gid;
    }
    // Time matters more than the operator's window onto it: a control
    // socket that cannot be had (no AF_UNIX, an unwritable directory, a
    // simulator) is a warning, not a reason to stop.
    try {
        control_ = std::make_unique<ctl::ControlServer>(
            *loop_, o, [this] { return snapshot(); },
            [this](ctl::Action a, const ctl::Caller& caller) {
                carry_out(a, "uid " + std::to_string(caller.uid));
            },
            [this](const ctl::ManageRequest& r, const ctl::Caller& caller) {
                return manage(r, "uid " + std::to_string(caller.uid));
            });
    } catch (const std::exception& e) {
        log_.warn(io::LogClass::General, std::string("no control socket (") + e.what() +
                                             "): running without nanotimectl access");
    }
}

void Daemon::carry_out(ctl::Action a, const std::string& who) {
    if (a == ctl::Action::Reload) {
        log_.info(io::LogClass::Control, "reload requested by " + who);
        loop_->add_timer_after(0ms, [this] { reload(); });
    } else if (a == ctl::Action::MakeStep) {
        log_.info(io::LogClass::Control, "step armed by " + who);
        driver_->arm_step();
    } else if (a == ctl::Action::ResetClients) {
        log_.info(io::LogClass::Control, "client counters reset by " + who);
        if (server_) server_->reset_client_counters();
    }
}

ctl::ManageOutcome Daemon::manage(const ctl::ManageRequest& r, const std::string& who) {
    ctl::ManageOutcome out;
    ClientDriver::SourceCommand done;
    if (r.command == "leapfile") {
        std::string why;
        const auto installed = clock_manager_->install_leap_file(r.content, why);
        if (!installed) {
            out.error = why;
            return out;
        }
        log_.info(io::LogClass::Control, "leap seconds file pushed by " + who + ": " + *installed);
        out.data = {{"file", clock_manager_->leap().path()}, {"message", *installed}};
        return out;
    }
    if (r.command == "add") return add_source(r, who);
    if (r.command == "delete") return delete_source(r, who);
    if (r.command == "burst") {
        done = driver_->burst(r.source);
    } else if (r.command == "online" || r.command == "offline") {
        done = driver_->set_online(r.source, r.command == "online");
    } else if (r.command == "minpoll" || r.command == "maxpoll") {
        done = driver_->set_poll_limit(r.source, r.command == "minpoll", r.value);
    } else {
        out.error = "unknown management command \"" + r.command + "\"";
        return out;
    }
    if (!done.error.empty()) {
        out.error = done.error;
        return out;
    }
    log_.info(io::LogClass::Control, r.command + " by " + who + ": " + done.message);
    out.data = {{"sources", done.sources}, {"message", done.message}};
    return out;
}

void Daemon::load_runtime_sources() {
    const std::vector<config::ConfigError> errors = runtime_sources_.load();
    for (const config::ConfigError& e : errors) log_.error(io::LogClass::General, e.to_string());
    if (!errors.empty()) {
        log_.error(io::LogClass::General,
                   "the sources added at run time are not used: " + runtime_sources_.path() +
                       " has errors (add and delete are refused until it is fixed and the "
                       "daemon reloaded)");
        return;
    }
    const auto& entries = runtime_sources_.entries();
    config_.sources.insert(config_.sources.end(), entries.begin(), entries.end());
}

ctl::ManageOutcome Daemon::add_source(const ctl::ManageRequest& r, const std::string& who) {
    ctl::ManageOutcome out;
    const config::SourcesFileResult parsed = config::parse_sources_file(r.content, "add");
    if (!parsed.errors.empty()) {
        out.error = parsed.errors.front().to_string();
        return out;
    }
    if (parsed.sources.size() != 1) {
        out.error = "add takes one [[source]] table, not " + std::to_string(parsed.sources.size());
        return out;
    }
    config::SourceEntry entry = parsed.sources.front();
    entry.file = runtime_sources_.path();
    // Checked before the file is written, so that a refusal changes nothing.
    std::string refused;
    for (const config::SourceEntry& running : config_.sources) {
        if (config::same_source(running, entry)) {
            refused = entry.address + " with these settings is a source already";
            if (!running.file.empty())
                refused += " (" + running.file + ":" + std::to_string(running.line) + ")";
        }
    }
    if (!refused.empty()) {
        out.error = refused;
        return out;
    }
    if (auto why = runtime_sources_.add(entry)) {
        out.error = *why;
        return out;
    }
    entry = runtime_sources_.entries().back();
    const ClientDriver::SourceCommand done = driver_->add_source(entry);
    config_.sources.push_back(entry);
    const std::string kept = runtime_sources_.persistent()
                                 ? "kept in " + runtime_sources_.path()
                                 : "until the daemon stops ([control] sources_file is empty)";
    log_.info(io::LogClass::Control, "add by " + who + ": " + done.message + ", " + kept);
    out.data = {{"sources", done.sources}, {"message", done.message + ", " + kept}};
    return out;
}

ctl::ManageOutcome Daemon::delete_source(const ctl::ManageRequest& r, const std::string& who) {
    ctl::ManageOutcome out;
    if (r.source.empty()) {
        out.error = "delete needs a source (the name written for it, or a server's address)";
        return out;
    }
    const std::vector<config::SourceEntry> entries = driver_->configured_named(r.source, out.error);
    if (entries.empty()) return out;
    std::vector<bool> run_time;
    run_time.reserve(entries.size());
    for (const config::SourceEntry& entry : entries)
        run_time.push_back(runtime_sources_.holds(entry));
    // The file first: if it cannot be rewritten, nothing changes.
    if (auto why = runtime_sources_.remove(entries)) {
        out.error = *why;
        return out;
    }
    const ClientDriver::SourceCommand done = driver_->delete_source(r.source);
    std::vector<std::string> notes;
    for (size_t i = 0; i < entries.size(); ++i) {
        const config::SourceEntry& entry = entries[i];
        auto it = std::find_if(config_.sources.begin(), config_.sources.end(),
                               [&](const auto& e) { return config::same_source(e, entry); });
        if (it != config_.sources.end()) config_.sources.erase(it);
        if (!run_time[i]) {
            notes.push_back(entry.address + ": configured in " + entry.file + ":" +
                            std::to_string(entry.line) +
                            ", back at the next reload or restart unless removed there");
        } else if (runtime_sources_.persistent()) {
            notes.push_back(entry.address + ": added at run time, removed from " +
                            runtime_sources_.path());
        } else {
            notes.push_back(entry.address + ": added at run time");
        }
    }
    std::string message = done.message;
    for (const std::string& n : notes) message += "; " + n;
    log_.info(io::LogClass::Control, "delete by " + who + ": " + message);
    out.data = {{"sources", done.sources}, {"message", message}};
    return out;
}

void Daemon::open_broker_client() {
    if (!config_.broker_client.enabled()) return;
    std::vector<std::string> roles = {"client"};
    if (config_.server.enabled()) roles.emplace_back("server");
    if (config_.nts_ke.enabled()) roles.emplace_back("nts_ke");
    if (config_.metrics.enabled()) roles.emplace_back("metrics");
    broker_client_ = std::make_unique<BrokerClient>(
        config_.broker_client, *loop_, log_, random_, std::move(roles),
        [this] { return snapshot(); },
        [this](ctl::Action a, const std::string& who) { carry_out(a, who); },
        [this](const ctl::ManageRequest& r, const std::string& who) { return manage(r, who); },
        [this] { return clock_manager_->clock_steps(); });
}

void Daemon::open_nts() {
    if (!config_.nts_ke.enabled()) return;
    io::LoopOptions lo;
    lo.choice = loop_->backend() == io::Backend::IoUring ? io::BackendChoice::IoUring
                                                         : io::BackendChoice::Poll;
    lo.ring_entries = config_.io.ring_entries;
    // Plenty for one TLS record at a time per connection; the KE loop has
    // no datagrams to receive.
    lo.buffer_count = 64;
    nts_ke_ = std::make_unique<NtsKeService>(config_.nts_ke, lo, nts_keys_->shared(), random_, log_,
                                             [this] { return unix_now(); });
}

void Daemon::open_metrics() {
    if (!config_.metrics.enabled()) return;
    io::LoopOptions lo;
    lo.choice = loop_->backend() == io::Backend::IoUring ? io::BackendChoice::IoUring
                                                         : io::BackendChoice::Poll;
    lo.ring_entries = config_.io.ring_entries;
    lo.buffer_count = 64;  // a few scrapers, no datagrams
    metrics_ = std::make_unique<MetricsService>(config_.metrics, lo, log_);
}

void Daemon::open_broker() {
    if (!config_.broker.enabled()) return;
    io::LoopOptions lo;
    lo.choice = loop_->backend() == io::Backend::IoUring ? io::BackendChoice::IoUring
                                                         : io::BackendChoice::Poll;
    lo.ring_entries = config_.io.ring_entries;
    lo.buffer_count = 256;  // many members, no datagrams
    broker_ = std::make_unique<BrokerService>(config_.broker, lo, log_);
}

void Daemon::publish_metrics() {
    auto data = std::make_shared<metrics::MetricsData>();
    data->snapshot = snapshot();
    metrics_recorder_.observe(data->snapshot);
    data->system_offset = metrics_recorder_.system_offset();
    // build_snapshot() lists the core's sources in this order.
    for (const ntp::SourceInfo& info : driver_->core().sources()) {
        const ntp::SourceSnapshot ss = info.source->snapshot();
        metrics::SourceMetrics m;
        m.root_delay_s = ss.root_delay;
        m.root_dispersion_s = ss.root_dispersion;
        data->sources.push_back(std::move(m));
    }
    for (size_t i = 0; i < data->sources.size() && i < data->snapshot.sources.size(); ++i) {
        const ctl::SourceInfo& s = data->snapshot.sources[i];
        data->sources[i].offset = metrics_recorder_.source_offset(s.name, s.address);
    }
    if (server_) {
        data->server = server_->counters();
        data->server_latency = server_->latency();
    }
    data->clock_steps = clock_manager_->clock_steps();
    data->clock_stepped_s = clock_manager_->clock_stepped_s();
    // The exporter and the broker's /metrics read the same data.
    if (broker_) broker_->publish(data);
    if (metrics_) metrics_->publish(std::move(data));
    loop_->add_timer_after(1s, [this] { publish_metrics(); });
}

int64_t Daemon::unix_now() const {
    return timescale_.now().to_unix().count() / 1'000'000'000;
}

void Daemon::open_kernel_link() {
    if (config_.clock.backend != config::ClockBackendKind::Nanoclock) return;
    kernel_link_ = std::make_unique<KernelLink>(*loop_, log_, config_.clock.device);
    kernel_link_->open_devices(config_.pps);
}

void Daemon::start() {
    if (nts_keys_) nts_keys_->start();  // before any thread seals or opens a cookie
    if (server_) server_->start();
    if (nts_ke_) nts_ke_->start();
    if (metrics_) metrics_->start();
    if (broker_) broker_->start();
    clock_manager_->start(driver_->core().system_state());
    if (kernel_link_) kernel_link_->start();
    load_runtime_sources();
    driver_->start();
    if (metrics_ || broker_) publish_metrics();
    if (refclocks_) refclocks_->start();
    if (broker_client_) broker_client_->start();
    log_.info(io::LogClass::General,
              std::string("nanotimed ") + kVersion + " running: " + loop_->describe() + ", clock " +
                  clock_->name() + ", " + std::to_string(config_.sources.size()) +
                  " configured sources");
}

bool Daemon::reload() {
    config::ParseResult r = config::load_config(config_path_);
    if (!r.config) {
        for (const config::ConfigError& e : r.errors)
            log_.error(io::LogClass::General, e.to_string());
        log_.error(io::LogClass::General,
                   "reload refused: the configuration has errors; keeping the old one");
        return false;
    }
    config_.sources = r.config->sources;
    load_runtime_sources();
    driver_->reconcile_sources();
    clock_manager_->reload_leap_file();
    if (nts_ke_) {
        if (auto why = nts_ke_->reload_certificate())
            log_.error(io::LogClass::General, *why);
        else
            log_.info(io::LogClass::General, "NTS-KE certificate re-read");
    }
    if (metrics_) {
        if (auto why = metrics_->reload_certificate()) log_.error(io::LogClass::General, *why);
    }
    if (broker_) {
        if (auto why = broker_->reload_certificate()) log_.error(io::LogClass::General, *why);
    }
    if (kernel_link_) {
        config_.pps = r.config->pps;
        kernel_link_->reconfigure(config_.pps);
    }
    log_.info(io::LogClass::General,
              "reloaded: " + std::to_string(config_.sources.size()) + " sources");
    return true;
}

void Daemon::on_update() {
    const ntp::SystemState& s = driver_->core().system_state();
    if (server_) server_->publish(driver_->served_state());
    if (s.synchronized() == last_synchronized_ && s.stratum == last_stratum_) return;
    last_synchronized_ = s.synchronized();
    last_stratum_ = s.stratum;
    const std::string line = status_line();
    log_.info(io::LogClass::SourceState, line);
    if (on_status) on_status(line);
}

ctl::DaemonSnapshot Daemon::snapshot() {
    return build_snapshot(SnapshotInputs{
        config_, *loop_, log_, timescale_, *driver_, *clock_manager_, *clock_, server_.get(),
        kernel_link_.get(), nts_ke_.get(), nts_keys_.get(), started_, interface_stamping_});
}

}  // namespace nanotime::daemon
