// daemon.hpp - nanotimed's wiring: configuration, event loop, clock and the
// services, each one object with one job:
//
//   Daemon ──► ClientDriver ──► ClockManager ──► LeapManager
//     │          (sources,        (discipline,     (leap policy:
//     │           DNS, reload,     steering,        returns actions)
//     │           the core's       drift file,
//     │           actions)         kernel leap)
//     ├──► ServerFrontEnd (sockets, workers, replies: reads the state handed)
//     ├──► NtsKeyManager (NTS master keys: rotate or re-read, publish to threads)
//     ├──► NtsKeService (NTS-KE listeners on their own thread)
//     ├──► ctl::ControlServer ── build_snapshot() (reads every service)
//     ├──► MetricsService (Prometheus /metrics on its own thread: a
//     │      snapshot published every second, histograms by MetricsRecorder)
//     ├──► BrokerService ([broker]: the /v1 operator API and the members'
//     │      subscriptions on its own thread, state in SQLite)
//     ├──► BrokerClient ([broker_client]: subscribed to a fleet broker,
//     │      state and events out, relayed control commands in)
//     └──► KernelLink (nanoclock backend: netlink, PPS)
//
// Dependencies run one way: a service returns actions to the one above it
// (ClockManager -> ClientDriver: ClockActions) and never calls back up; the
// driver's on_update tells Daemon that the system state changed. Adding a
// role is adding an object here.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "ctl/control_server.hpp"
#include "ctl/snapshot.hpp"
#include "io/clock.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "io/stamping_plan.hpp"
#include "metrics/metrics_recorder.hpp"
#include "nanotimed/broker_client.hpp"
#include "nanotimed/broker_service.hpp"
#include "nanotimed/client_driver.hpp"
#include "nanotimed/clock_manager.hpp"
#include "nanotimed/kernel_link.hpp"
#include "nanotimed/metrics_service.hpp"
#include "nanotimed/nts_ke_service.hpp"
#include "nanotimed/nts_key_manager.hpp"
#include "nanotimed/refclock_devices.hpp"
#include "nanotimed/runtime_sources.hpp"
#include "nanotimed/server_front_end.hpp"
#include "nanotimed/snapshot_builder.hpp"
#include "nanotimed/timescale.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

class Daemon {
  public:
    Daemon(config::Config config, std::string config_path, std::unique_ptr<io::EventLoop> loop,
           std::unique_ptr<io::ClockBackend> clock, io::RateLimitedLog& log,
           ntp::RandomSource& random);
    ~Daemon();

    // Phase 1, still privileged and before seccomp: NTP server sockets
    // (port 123), the control socket, the signalfd, the refclocks' sockets
    // and SHM segments. Throws on failure.
    void open_sockets();
    // Phase 2, after privilege drop and seccomp: sources, timers, signals.
    void start();
    void run() { loop_->run(); }
    void stop() { loop_->stop(); }

    // Re-reads the configuration file and replaces the sources (SIGHUP,
    // nanotimectl reload). A bad file is logged and changes nothing.
    bool reload();

    ctl::DaemonSnapshot snapshot();
    io::EventLoop& loop() { return *loop_; }
    // One line for sd_notify STATUS=.
    std::string status_line() const { return daemon::status_line(driver_->core()); }
    // Called with a new status line when synchronisation changes.
    std::function<void(const std::string&)> on_status;

  private:
    void open_control_socket();
    // What a privileged control command returned, from the control socket
    // or relayed by the broker; @who names the caller for the log.
    void carry_out(ctl::Action action, const std::string& who);
    // A management command (burst, online, offline, minpoll, maxpoll,
    // leapfile, add, delete), from the control socket or the broker,
    // carried out before its reply.
    ctl::ManageOutcome manage(const ctl::ManageRequest& request, const std::string& who);
    // add: one [[source]] (TOML in request.content) runs and is kept in
    // [control] sources_file. delete: the configured sources request.source
    // names stop (and leave that file).
    ctl::ManageOutcome add_source(const ctl::ManageRequest& request, const std::string& who);
    ctl::ManageOutcome delete_source(const ctl::ManageRequest& request, const std::string& who);
    // (Re-)reads [control] sources_file into runtime_sources_ and appends
    // its entries to config_.sources (errors logged: none appended).
    void load_runtime_sources();
    // [broker_client]: the PEM files read and the TLS context made (privileged).
    void open_broker_client();
    // nanoclock backend: the netlink channel, PPS bindings and bridges.
    void open_kernel_link();
    // NTS server side: master keys, and the NTS-KE server when it listens.
    void open_nts();
    // [metrics]: the exporter's listeners (privileged: the port, the key).
    void open_metrics();
    // Every second while the exporter runs: a fresh MetricsData to its thread.
    void publish_metrics();
    // [broker]: the operator API and subscriptions (privileged: the port,
    // the keys, the database).
    void open_broker();
    int64_t unix_now() const;
    // The driver updated the system state: to the server workers, and the
    // status line when synchronisation or stratum changed.
    void on_update();

    config::Config config_;
    std::string config_path_;
    std::unique_ptr<io::EventLoop> loop_;
    std::unique_ptr<io::ClockBackend> clock_;
    io::RateLimitedLog& log_;
    ntp::RandomSource& random_;
    Timescale timescale_;
    std::chrono::steady_clock::time_point started_;
    // Each interface's timestamping, probed in open_sockets() (privileged,
    // before the seccomp filter) and shown by nanotimectl status.
    std::vector<io::InterfaceStamping> interface_stamping_;
    bool last_synchronized_ = false;
    int last_stratum_ = 16;
    RuntimeSources runtime_sources_;  // [control] sources_file
    std::unique_ptr<ClockManager> clock_manager_;
    std::unique_ptr<NtsKeyManager> nts_keys_;  // this host seals or opens NTS cookies
    std::unique_ptr<ServerFrontEnd> server_;   // server enabled
    std::unique_ptr<NtsKeService> nts_ke_;     // [nts_ke] listens
    std::unique_ptr<ctl::ControlServer> control_;
    std::unique_ptr<MetricsService> metrics_;      // [metrics] listens
    std::unique_ptr<BrokerService> broker_;        // [broker] listens
    std::unique_ptr<BrokerClient> broker_client_;  // [broker_client] subscribes
    metrics::MetricsRecorder metrics_recorder_;
    std::unique_ptr<KernelLink> kernel_link_;     // nanoclock backend: netlink, PPS
    std::unique_ptr<RefclockDevices> refclocks_;  // [[refclock]] sockets and SHM segments
    std::unique_ptr<ClientDriver> driver_;        // last: destroyed first (its resolver thread)
};

}  // namespace nanotime::daemon
