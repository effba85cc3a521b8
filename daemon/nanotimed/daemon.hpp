// daemon.hpp - nanotimed's wiring: configuration + event loop + protocol core
// + clock + control socket.
//
// The protocol core (ntpcore: ClientCore, NtpServer) never touches a socket
// or a clock. This class is the edge that does: it turns UDP datagrams and
// timer expiries into calls on the core and carries out the actions the core
// returns (send this request from a fresh socket, arm that timer, resolve a
// pool, discipline the clock).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "ctl/control_server.hpp"
#include "ctl/snapshot.hpp"
#include "io/clock.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "io/steering.hpp"
#include "leap/leap_seconds.hpp"
#include "nanotimed/kernel_link.hpp"
#include "nanotimed/resolver.hpp"
#include "nanotimed/server_workers.hpp"
#include "server/ntp_server.hpp"
#include "source/client_core.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

inline constexpr const char* kVersion = "0.1.0";

class Daemon {
  public:
    Daemon(config::Config config, std::string config_path, std::unique_ptr<io::EventLoop> loop,
           std::unique_ptr<io::ClockBackend> clock, io::RateLimitedLog& log,
           ntp::RandomSource& random);
    ~Daemon();

    // Phase 1, still privileged and before seccomp: NTP server sockets
    // (port 123), the control socket, the signalfd. Throws on failure.
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
    std::string status_line();
    // Called with a new status line when synchronisation changes.
    std::function<void(const std::string&)> on_status;

  private:
    struct SourceSlot {
        std::string name;  // as configured
        uint64_t timer = 0;
        uint64_t socket = 0;  // the socket of the outstanding request
    };

    ntp::NtpInstant now() const;
    ntp::NtpInstant receive_time(const io::ReceivedDatagram& d) const;
    // A kernel socket timestamp (CLOCK_REALTIME) on the disciplined clock's
    // timescale; nothing without a software stamp.
    std::optional<ntp::NtpInstant> kernel_time(const io::PacketTimestamps& ts) const;
    void add_sources();
    // nanoclock backend: the netlink channel, PPS bindings and bridges.
    void open_kernel_link();
    void add_server(const config::SourceEntry& s, const ntp::IpAddress& address);
    void on_resolved(const Resolution& r);
    void retry_server(const config::SourceEntry& s);
    void load_leap_file();
    // Leap state from the leap file (or the system peer's warning): kernel
    // STA_INS/STA_DEL on the last day of the month, TAI offset; re-armed at
    // the next boundary.
    void update_leap();
    // The system state as served: the leap file's announcement added.
    ntp::SystemState served_state() const;
    void steer_realtime();
    void remove_all_sources();
    void carry_out(ntp::ClientActions actions);
    void send_request(const ntp::SendTo& send);
    void resolve_pool(ntp::PoolId pool, const std::string& hostname);
    void discipline(const ntp::DisciplineClock& command);
    // CLOCK_REALTIME takes the nanoclock's frequency changes as they happen
    // (feed-forward to the steering, at the nanoclock's next second, when the
    // nanokernel applies them).
    void follow_frequency(double frequency);
    // A fresh client core (start, reload) that continues the discipline
    // from the clock's current frequency.
    std::unique_ptr<ntp::ClientCore> make_core();
    void on_server_datagram(uint64_t socket, const io::ReceivedDatagram& d);
    void load_drift();
    void save_drift();
    void schedule_drift_save();
    void check_status_change();

    config::Config config_;
    std::string config_path_;
    std::unique_ptr<io::EventLoop> loop_;
    std::unique_ptr<io::ClockBackend> clock_;
    io::RateLimitedLog& log_;
    ntp::RandomSource& random_;
    io::ClockDiscipline discipline_;
    uint64_t slew_timer_ = 0;
    double clock_frequency_ = 0.0;  // fraction, the disciplined clock's last set frequency
    bool pps_owns_clock_ = false;   // the nanoclock's hardpps disciplines it: NTP only watches
    std::unique_ptr<ntp::ClientCore> core_;
    std::unique_ptr<ntp::NtpServer> server_;
    std::vector<uint64_t> server_sockets_;
    std::unique_ptr<ServerWorkers> workers_;  // server.workers > 1
    // Host name lookups in flight: tag -> what to do with the answer.
    // A reload clears it, so answers for the old sources are dropped.
    struct Lookup {
        std::optional<ntp::PoolId> pool;
        config::SourceEntry server;  // when pool is empty
    };
    std::map<uint64_t, Lookup> lookups_;
    uint64_t next_lookup_ = 1;
    std::optional<ntp::LeapTable> leap_table_;
    uint64_t leap_timer_ = 0;
    int kernel_leap_ = 0;  // what we armed: +1 insert, -1 delete, 0 none
    int kernel_tai_ = -1;  // what we set, -1: not yet
    ntp::LeapIndicator file_announce_ = ntp::LeapIndicator::NoWarning;
    bool leap_file_current_ = false;              // loaded and not expired: it decides the leap
    std::unique_ptr<io::ClockBackend> realtime_;  // steer_realtime: CLOCK_REALTIME
    std::unique_ptr<io::RealtimeSteering> steering_;
    ntp::ServoState steering_state_ = ntp::ServoState::Unlocked;
    bool steering_waiting_ = false;       // the nanoclock is unsynchronised
    uint64_t realtime_steps_ = 0;         // CLOCK_REALTIME steps made by the steering
    uint64_t exchanges_across_step_ = 0;  // NTP replies dropped: a step fell inside
    std::unique_ptr<ctl::ControlServer> control_;
    std::map<ntp::SourceId, SourceSlot> sources_;
    std::map<ntp::PoolId, std::string> pools_;
    std::map<ntp::PoolId, uint64_t> pool_timers_;
    std::vector<uint64_t> retry_timers_;
    std::chrono::steady_clock::time_point started_;
    std::string io_note_;
    bool last_synchronized_ = false;
    int last_stratum_ = 16;
    std::unique_ptr<KernelLink> kernel_link_;  // nanoclock backend: netlink, PPS
    std::unique_ptr<Resolver> resolver_;       // last: destroyed first, before the loop
};

using io::to_core;
using io::to_endpoint;
std::string reference_id_text(uint32_t id, int stratum);

}  // namespace nanotime::daemon
