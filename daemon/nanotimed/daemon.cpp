#include "nanotimed/daemon.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <sys/timex.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>

#include "ctl/views.hpp"
#include "io/utc_text.hpp"
#include "packet/reference_id.hpp"

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;

bool is_wildcard(const io::Endpoint& e) {
    if (e.family() == AF_INET)
        return reinterpret_cast<const sockaddr_in*>(e.sa())->sin_addr.s_addr == htonl(INADDR_ANY);
    if (e.family() == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(e.sa())->sin6_addr);
    return true;
}

std::chrono::nanoseconds to_chrono(ntp::Nanoseconds d) {
    return std::chrono::nanoseconds(d.count());
}

const char* leap_text(ntp::LeapIndicator leap) {
    switch (leap) {
        case ntp::LeapIndicator::NoWarning:
            return "none";
        case ntp::LeapIndicator::InsertSecond:
            return "insert";
        case ntp::LeapIndicator::DeleteSecond:
            return "delete";
        case ntp::LeapIndicator::Unsynchronized:
            return "unknown";
    }
    return "unknown";
}

const char* removal_text(ntp::RemovalReason r) {
    switch (r) {
        case ntp::RemovalReason::KissDeny:
            return "the server sent a DENY kiss-o'-death";
        case ntp::RemovalReason::KissRstr:
            return "the server sent a RSTR kiss-o'-death";
        case ntp::RemovalReason::Unreachable:
            return "unreachable, replaced";
        case ntp::RemovalReason::Falseticker:
            return "persistent falseticker, replaced";
        case ntp::RemovalReason::Removed:
            return "removed by configuration";
    }
    return "removed";
}

std::string verdict_text(const ntp::SourceVerdict& v, uint8_t reach) {
    switch (v.status) {
        case ntp::SourceStatus::SystemPeer:
            return "selected";
        case ntp::SourceStatus::Survivor:
            return "candidate";
        case ntp::SourceStatus::Outlier:
            return "outlier";
        case ntp::SourceStatus::Falseticker:
            return "falseticker";
        case ntp::SourceStatus::Unfit:
            return reach == 0 ? "unreachable" : "unfit";
    }
    return "unknown";
}

}  // namespace

std::string reference_id_text(uint32_t id, int stratum) {
    if (stratum <= 1) {
        std::string s = ntp::reference_id_to_ascii(id);
        return s.empty() ? "-" : s;
    }
    char buf[INET_ADDRSTRLEN] = {};
    const uint32_t be = htonl(id);
    inet_ntop(AF_INET, &be, buf, sizeof buf);
    return buf;
}

Daemon::Daemon(config::Config config, std::string config_path, std::unique_ptr<io::EventLoop> loop,
               std::unique_ptr<io::ClockBackend> clock, io::RateLimitedLog& log,
               ntp::RandomSource& random)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      loop_(std::move(loop)),
      clock_(std::move(clock)),
      log_(log),
      random_(random),
      discipline_(*clock_),
      started_(std::chrono::steady_clock::now()) {
    // Not in the initialiser list: make_core() looks at the old core (for a
    // reload), so core_ must already be constructed (null) when it runs.
    core_ = make_core();
    resolver_ = std::make_unique<Resolver>(*loop_, [this](const Resolution& r) { on_resolved(r); });
}

Daemon::~Daemon() {
    workers_.reset();
    control_.reset();
    if (!config_.clock.drift_file.empty()) save_drift();
}

ntp::NtpInstant Daemon::now() const {
    const timespec ts = clock_->now();
    return ntp::NtpInstant::from_unix(
        ntp::Nanoseconds(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
}

std::optional<ntp::NtpInstant> Daemon::kernel_time(const io::PacketTimestamps& ts) const {
    if (!ts.software) return std::nullopt;
    int64_t ns = int64_t{ts.software->tv_sec} * 1'000'000'000 + ts.software->tv_nsec;
    // Kernel stamps are CLOCK_REALTIME: exact for the system clock; for the
    // nanoclock, add the measured nanoclock - realtime difference (realtime
    // is steered to the nanoclock, but never exactly on it).
    if (config_.clock.backend != config::ClockBackendKind::System) {
        const std::optional<int64_t> diff = clock_->minus_realtime_ns();
        if (!diff) return std::nullopt;
        ns += *diff;
    }
    return ntp::NtpInstant::from_unix(ntp::Nanoseconds(ns));
}

ntp::NtpInstant Daemon::receive_time(const io::ReceivedDatagram& d) const {
    return kernel_time(d.rx).value_or(now());
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
    const ntp::ServerConfig& sc = config_.server;
    if (sc.enabled()) {
        ntp::ServerConfig server_config = sc;
        // With extra workers every server thread has its own rate-limit
        // table; together they stay within server.rate_limit.memory.
        const unsigned workers = static_cast<unsigned>(sc.workers);
        if (server_config.rate_limit && workers > 1) {
            server_config.rate_limit->memory_bytes =
                std::max<size_t>(4096, server_config.rate_limit->memory_bytes / workers);
        }
        const ntp::ServerConfig per_worker = server_config;
        server_ = std::make_unique<ntp::NtpServer>(std::move(server_config), random_);
        std::vector<io::UdpOptions> binds;
        for (const ntp::SocketAddress& address : sc.listen) {
            io::UdpOptions o;
            o.bind = to_endpoint(address);
            o.rx_timestamps = true;
            o.reuse_port = workers > 1;
            // The destination address of each request matters only on a
            // wildcard socket (the reply must leave from it); on a socket
            // bound to one address, IP_PKTINFO would cost a control message
            // per datagram each way for nothing.
            o.pktinfo = is_wildcard(o.bind);
            const uint64_t id = loop_->open_udp(
                o, [this](const io::ReceivedDatagram& d) { on_server_datagram(d.socket, d); });
            server_sockets_.push_back(id);
            o.bind = loop_->local_endpoint(id);  // the real port, if 0 was asked for
            binds.push_back(o);
            log_.info(io::LogClass::General,
                      "serving NTP on " + loop_->local_endpoint(id).to_string());
        }
        if (workers > 1) {
            io::LoopOptions lo;
            lo.choice = loop_->backend() == io::Backend::IoUring ? io::BackendChoice::IoUring
                                                                 : io::BackendChoice::Poll;
            lo.ring_entries = config_.io.ring_entries;
            lo.buffer_count = config_.io.receive_buffers;
            workers_ = std::make_unique<ServerWorkers>(
                workers - 1, lo, binds,
                [this, &per_worker] {
                    return std::make_unique<ntp::NtpServer>(per_worker, random_);
                },
                [this](const io::ReceivedDatagram& d) { return receive_time(d); },
                [this] { return now(); }, served_state());
            log_.info(io::LogClass::General, std::to_string(workers) +
                                                 " server workers (SO_REUSEPORT, one " +
                                                 backend_name(loop_->backend()) + " loop each)");
        }
    }
    if (!config_.control.socket.empty()) {
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
                    const std::string who = "uid " + std::to_string(caller.uid);
                    if (a == ctl::Action::Reload) {
                        log_.info(io::LogClass::Control, "reload requested by " + who);
                        loop_->add_timer_after(0ms, [this] { reload(); });
                    } else if (a == ctl::Action::MakeStep) {
                        log_.info(io::LogClass::Control, "step armed by " + who);
                        core_->arm_step();
                    }
                });
        } catch (const std::exception& e) {
            log_.warn(io::LogClass::General, std::string("no control socket (") + e.what() +
                                                 "): running without nanotimectl access");
        }
    }
    open_kernel_link();  // /dev/ppsN may need the privileges we still have
}

void Daemon::open_kernel_link() {
    if (config_.clock.backend != config::ClockBackendKind::Nanoclock) return;
    kernel_link_ = std::make_unique<KernelLink>(*loop_, log_, config_.clock.device);
    kernel_link_->open_devices(config_.pps);
}

void Daemon::on_server_datagram(uint64_t socket, const io::ReceivedDatagram& d) {
    if (!server_) return;
    const ntp::NtpInstant rx = receive_time(d);
    const ntp::ServerResponse r =
        server_->handle(d.payload, to_core(d.peer), rx, now(), served_state());
    if (r.decision == ntp::ServerDecision::Drop) return;
    // The message is built only when debug is on: building it costs two heap
    // allocations per kiss-o'-death, and a flood of them is when it matters.
    if (r.decision == ntp::ServerDecision::KissOfDeath &&
        log_.logger().should_log(spdlog::level::debug)) {
        log_.debug(io::LogClass::RateLimited, "RATE kiss-o'-death to " + d.peer.address_string());
    }
    loop_->send_udp(socket, d.peer, r.bytes(), d.local.empty() ? nullptr : &d.local);
}

void Daemon::follow_frequency(double frequency) {
    const double delta = frequency - clock_frequency_;
    clock_frequency_ = frequency;
    if (!steering_ || delta == 0) return;
    // The nanokernel takes a new frequency at its next second (plus the
    // tick's latency): CLOCK_REALTIME takes the same change then.
    const timespec t = clock_->now();
    const auto until = std::chrono::nanoseconds(1'000'000'000 - t.tv_nsec + 200'000);
    loop_->add_timer_after(until, [this, delta] {
        if (!steering_) return;
        if (int r = steering_->feed_forward(delta * 1e9); r < 0) {
            log_.error(
                io::LogClass::ClockAdjust,
                std::string("CLOCK_REALTIME cannot follow the frequency: ") + std::strerror(-r));
        }
    });
}

std::unique_ptr<ntp::ClientCore> Daemon::make_core() {
    ntp::ControllerConfig cc;
    cc.step_threshold = config_.clock.step_threshold;
    cc.panic_threshold = config_.clock.panic_threshold;
    cc.makestep_threshold = config_.clock.makestep_threshold;
    cc.makestep_limit = config_.clock.makestep_limit;
    cc.max_frequency = config_.clock.max_frequency_ppm * 1e-6;
    cc.max_slew_rate = config_.clock.max_slew_rate_ppm * 1e-6;
    cc.adjust = config_.clock.adjust;
    // The nanokernel takes a new frequency at its next second (FreeBSD's
    // ntp_update_second); Linux's CLOCK_REALTIME at its next tick.
    cc.frequency_at_second = config_.clock.backend == config::ClockBackendKind::Nanoclock;
    double frequency = 0.0;
    if (core_ && core_->discipline_status().slewing) {
        // The old core's slew must not outlive it.
        frequency = core_->discipline_status().frequency;
        discipline_.set_frequency(frequency);
        loop_->cancel_timer(slew_timer_);
        slew_timer_ = 0;
    } else if (const std::optional<double> f = discipline_.frequency()) {
        frequency = *f;
    }
    return std::make_unique<ntp::ClientCore>(ntp::SystemConfig{}, cc, frequency);
}

void Daemon::start() {
    if (workers_) workers_->start();
    load_drift();
    if (config_.clock.adjust) {
        if (const std::optional<double> f = discipline_.take_control()) {
            clock_frequency_ = *f;
        } else {
            log_.warn(io::LogClass::ClockAdjust,
                      "cannot read " + clock_->name() + " to turn its kernel PLL off");
        }
    }
    core_ = make_core();
    schedule_drift_save();
    load_leap_file();
    update_leap();
    if (config_.clock.backend == config::ClockBackendKind::Nanoclock &&
        config_.clock.steer_realtime && config_.clock.adjust) {
        realtime_ = std::make_unique<io::SystemClock>();
        ntp::PiServoConfig servo;
        servo.step_threshold_s = config_.clock.step_threshold;
        steering_ = std::make_unique<io::RealtimeSteering>(*clock_, *realtime_, servo);
        log_.info(io::LogClass::ClockAdjust, "steering CLOCK_REALTIME to " + clock_->name());
        steer_realtime();
    }
    if (kernel_link_) kernel_link_->start();
    add_sources();
    log_.info(io::LogClass::General,
              std::string("nanotimed ") + kVersion + " running: " + loop_->describe() + ", clock " +
                  clock_->name() + ", " + std::to_string(config_.sources.size()) +
                  " configured sources");
}

void Daemon::add_sources() {
    ntp::ClientActions actions;
    for (const config::SourceEntry& s : config_.sources) {
        if (s.kind == config::SourceKind::Pool) {
            ntp::PoolConfig pc;
            pc.hostname = s.address;
            pc.port = s.port;
            pc.desired_members = s.max_sources;
            pc.source = s.source;
            const ntp::PoolId id = core_->add_pool(pc, actions);
            pools_[id] = s.address;
            continue;
        }
        // Names are looked up off the loop; the server is added when the
        // answer comes (numeric addresses answer at once).
        const uint64_t tag = next_lookup_++;
        lookups_[tag] = Lookup{std::nullopt, s};
        resolver_->resolve(tag, s.address);
    }
    carry_out(std::move(actions));
}

void Daemon::add_server(const config::SourceEntry& s, const ntp::IpAddress& address) {
    ntp::SourceConfig sc = s.source;
    sc.address = ntp::SocketAddress{address, s.port};
    ntp::ClientActions actions;
    const ntp::SourceId id = core_->add_server(sc, random_, actions);
    sources_[id].name = s.address;
    carry_out(std::move(actions));
}

void Daemon::retry_server(const config::SourceEntry& s) {
    retry_timers_.push_back(loop_->add_timer_after(64s, [this, s] {
        const uint64_t tag = next_lookup_++;
        lookups_[tag] = Lookup{std::nullopt, s};
        resolver_->resolve(tag, s.address);
    }));
}

void Daemon::on_resolved(const Resolution& r) {
    auto it = lookups_.find(r.tag);
    if (it == lookups_.end()) return;  // for sources a reload removed
    const Lookup lookup = it->second;
    lookups_.erase(it);
    if (lookup.pool) {
        if (pools_.find(*lookup.pool) == pools_.end()) return;
        if (r.addresses.empty()) {
            log_.warn(io::LogClass::SourceState,
                      "cannot resolve pool '" + r.host + "': " + r.error);
            carry_out(core_->handle_resolve_failed(*lookup.pool));
            return;
        }
        carry_out(core_->handle_resolved(*lookup.pool, r.addresses, now(), random_));
        return;
    }
    if (r.addresses.empty()) {
        log_.warn(io::LogClass::SourceState,
                  "cannot resolve server '" + r.host + "': " + r.error + "; retrying in 64 s");
        retry_server(lookup.server);
        return;
    }
    add_server(lookup.server, r.addresses.front());
}

void Daemon::remove_all_sources() {
    ntp::ClientActions actions;
    std::vector<ntp::SourceId> ids;
    for (const ntp::SourceInfo& info : core_->sources()) ids.push_back(info.source->id());
    for (ntp::SourceId id : ids) core_->remove_source(id, now(), actions);
    carry_out(std::move(actions));
    for (uint64_t t : retry_timers_) loop_->cancel_timer(t);
    retry_timers_.clear();
    for (auto& [pool, timer] : pool_timers_) loop_->cancel_timer(timer);
    pool_timers_.clear();
    lookups_.clear();
    // Pools cannot be removed from the core one by one: start a fresh core.
    for (auto& [id, slot] : sources_) {
        loop_->cancel_timer(slot.timer);
        if (slot.socket) loop_->close_udp(slot.socket);
    }
    sources_.clear();
    pools_.clear();
    core_ = make_core();
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
    remove_all_sources();
    config_.sources = r.config->sources;
    add_sources();
    load_leap_file();  // a bad file keeps the table we have
    update_leap();
    if (kernel_link_) {
        config_.pps = r.config->pps;
        kernel_link_->reconfigure(config_.pps);
    }
    log_.info(io::LogClass::General,
              "reloaded: " + std::to_string(config_.sources.size()) + " sources");
    return true;
}

void Daemon::carry_out(ntp::ClientActions actions) {
    for (ntp::ClientAction& action : actions) {
        if (auto* send = std::get_if<ntp::SendTo>(&action)) {
            send_request(*send);
        } else if (auto* t = std::get_if<ntp::SetSourceTimer>(&action)) {
            SourceSlot& slot = sources_[t->source];
            loop_->cancel_timer(slot.timer);
            const ntp::SourceId id = t->source;
            slot.timer = loop_->add_timer_after(to_chrono(t->after), [this, id] {
                sources_[id].timer = 0;
                carry_out(core_->handle_source_timer(id, now(), random_));
            });
        } else if (auto* rm = std::get_if<ntp::SourceRemoved>(&action)) {
            auto it = sources_.find(rm->source);
            if (it != sources_.end()) {
                log_.warn(io::LogClass::SourceState,
                          "source " + it->second.name + ": " + removal_text(rm->reason));
                loop_->cancel_timer(it->second.timer);
                if (it->second.socket) loop_->close_udp(it->second.socket);
                sources_.erase(it);
            }
        } else if (auto* res = std::get_if<ntp::Resolve>(&action)) {
            resolve_pool(res->pool, res->hostname);
        } else if (auto* pt = std::get_if<ntp::SetPoolTimer>(&action)) {
            loop_->cancel_timer(pool_timers_[pt->pool]);
            const ntp::PoolId pool = pt->pool;
            pool_timers_[pool] = loop_->add_timer_after(to_chrono(pt->after), [this, pool] {
                pool_timers_.erase(pool);
                carry_out(core_->handle_pool_timer(pool, now(), random_));
            });
        } else if (auto* dc = std::get_if<ntp::DisciplineClock>(&action)) {
            discipline(*dc);
        } else if (auto* f = std::get_if<ntp::SetClockFrequency>(&action)) {
            if (!pps_owns_clock_ && discipline_.set_frequency(f->frequency) < 0) {
                log_.error(io::LogClass::ClockAdjust, std::string("cannot set the frequency: ") +
                                                          std::strerror(-discipline_.last_error()));
                core_->handle_command_failed(now(), discipline_.frequency().value_or(0.0));
            }
        } else if (auto* fault = std::get_if<ntp::DisciplineFault>(&action)) {
            if (fault->raised) {
                log_.warn(io::LogClass::ClockAdjust, fault->text);
            } else {
                log_.info(io::LogClass::ClockAdjust, fault->text);
            }
        }
    }
    check_status_change();
}

void Daemon::send_request(const ntp::SendTo& send) {
    SourceSlot& slot = sources_[send.source];
    if (slot.name.empty()) {
        auto pool = pools_.end();
        for (const ntp::SourceInfo& info : core_->sources()) {
            if (info.source->id() == send.source && info.pool) pool = pools_.find(*info.pool);
        }
        slot.name = pool != pools_.end() ? pool->second
                                         : to_endpoint(send.request.destination).address_string();
    }
    // A fresh socket (and so a fresh random source port) for every request
    // (RFC 9109); a reply to an older request has nowhere to land.
    if (slot.socket) loop_->close_udp(slot.socket);
    slot.socket = 0;
    const io::Endpoint to = to_endpoint(send.request.destination);
    io::UdpOptions o;
    o.bind = to.is_v6() ? io::Endpoint::v6_any(0) : io::Endpoint::v4_any(0);
    o.pktinfo = false;
    // The kernel's send time (SO_TIMESTAMPING, error queue) becomes t1.
    o.tx_timestamps = true;
    const ntp::SourceId source = send.source;
    const uint64_t request_id = send.request.request_id;
    // Kernel stamps are CLOCK_REALTIME and become nanoclock time through the
    // realtime - nanoclock difference measured when they are used. If the
    // steering steps CLOCK_REALTIME between the request and its reply, the
    // transmit stamp (taken before) would be converted with the difference
    // after, and the sample would be off by the step; the clock filter could
    // keep it for several polls. Such an exchange is dropped.
    const uint64_t steps_at_send = realtime_steps_;
    try {
        slot.socket = loop_->open_udp(
            o,
            [this, source, request_id, to, steps_at_send](const io::ReceivedDatagram& d) {
                if (!(d.peer == to)) {
                    log_.debug(io::LogClass::BadPacket,
                               "reply from unexpected address " + d.peer.to_string());
                    return;
                }
                // The TX stamp may still sit in the error queue: take it first.
                loop_->collect_tx_timestamps(d.socket);
                auto it = sources_.find(source);
                if (it != sources_.end() && it->second.socket == d.socket) {
                    loop_->close_udp(d.socket);
                    it->second.socket = 0;
                }
                if (realtime_steps_ != steps_at_send) {
                    ++exchanges_across_step_;
                    log_.debug(io::LogClass::ClockAdjust,
                               "reply from " + to.to_string() +
                                   " dropped: CLOCK_REALTIME was stepped during the exchange");
                    return;
                }
                carry_out(core_->handle_packet(request_id, d.payload, receive_time(d), random_));
            },
            [this, request_id, steps_at_send](const io::TxTimestamp& t) {
                if (realtime_steps_ != steps_at_send) return;  // the reply is dropped too
                if (auto sent = kernel_time(t.tx))
                    core_->handle_transmit_timestamp(request_id, *sent);
            });
    } catch (const std::system_error& e) {
        log_.warn(io::LogClass::Io, "cannot open a socket for " + to.to_string() + ": " + e.what());
        return;
    }
    loop_->send_udp(slot.socket, to, send.request.packet);
}

void Daemon::resolve_pool(ntp::PoolId pool, const std::string& hostname) {
    const uint64_t tag = next_lookup_++;
    lookups_[tag] = Lookup{pool, {}};
    resolver_->resolve(tag, hostname);
}

void Daemon::discipline(const ntp::DisciplineClock& dc) {
    const ntp::ClockCommand& cmd = dc.command;
    char text[200];
    if (cmd.action == ntp::ClockAction::Panic) {
        std::snprintf(text, sizeof text,
                      "offset %+.3f s exceeds the panic threshold (%.0f s): not adjusting; "
                      "nanotimectl makestep overrides",
                      cmd.offset, config_.clock.panic_threshold);
        log_.error(io::LogClass::ClockAdjust, text);
        return;
    }
    // A nanoclock whose hardpps disciplines time or frequency belongs to the
    // PPS signal: NTP numbers the seconds and watches, but does not steer.
    if (config_.clock.backend == config::ClockBackendKind::Nanoclock) {
        timex tx{};
        const bool pps = clock_->read(tx) >= 0 && (tx.status & STA_PPSSIGNAL) &&
                         (tx.status & (STA_PPSTIME | STA_PPSFREQ));
        if (pps != pps_owns_clock_) {
            log_.info(
                io::LogClass::ClockAdjust,
                pps ? "PPS disciplines " + clock_->name() + ": NTP corrections paused"
                    : "PPS no longer disciplines " + clock_->name() + ": NTP corrections resume");
            pps_owns_clock_ = pps;
        }
        if (pps && cmd.action != ntp::ClockAction::Step) {
            core_->handle_command_failed(now(), io::total_frequency_ppm(tx) * 1e-6);
            return;
        }
    }
    loop_->cancel_timer(slew_timer_);
    slew_timer_ = 0;
    if (discipline_.apply(cmd, dc.max_error, dc.est_error) < 0) {
        log_.error(io::LogClass::ClockAdjust, std::string("clock adjustment failed: ") +
                                                  std::strerror(-discipline_.last_error()));
        core_->handle_command_failed(now(), discipline_.frequency().value_or(0.0));
        return;
    }
    follow_frequency(cmd.frequency);
    if (cmd.action == ntp::ClockAction::Step) {
        std::snprintf(text, sizeof text, "clock stepped by %+.9f s", cmd.step);
        log_.warn(io::LogClass::ClockAdjust, text);
        if (steering_) steering_->reset();
    } else {
        std::snprintf(
            text, sizeof text,
            "offset %+.9f s (sd %.9f s): frequency %+.6f ppm, slewing %+.6f ppm for %.1f s",
            cmd.offset, dc.est_error, cmd.base_frequency * 1e6,
            (cmd.frequency - cmd.base_frequency) * 1e6, cmd.slew_seconds);
        log_.debug(io::LogClass::ClockAdjust, text);
    }
    if (cmd.slew_seconds > 0) {
        slew_timer_ = loop_->add_timer_after(
            std::chrono::nanoseconds(static_cast<int64_t>(cmd.end_after * 1e9)), [this] {
                slew_timer_ = 0;
                carry_out(core_->handle_slew_end(now()));
            });
    }
    update_leap();
}

namespace {

std::string utc_date(int64_t ntp_seconds) {
    return io::utc_text(ntp_seconds - ntp::kNtpToUnixSeconds);
}

}  // namespace

void Daemon::load_leap_file() {
    const std::string& path = config_.clock.leap_seconds_file;
    if (path.empty()) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        log_.warn(io::LogClass::ClockAdjust, "cannot read the leap seconds file " + path + ": " +
                                                 std::strerror(errno) +
                                                 "; leap warnings come from the sources only");
        return;
    }
    std::string text(ntp::kMaxLeapFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    auto table = ntp::LeapTable::parse(text);
    if (!table) {
        log_.error(io::LogClass::ClockAdjust,
                   path + ": " + table.error().to_string() +
                       (leap_table_ ? "; keeping the table loaded before" : "; not used"));
        return;
    }
    const ntp::LeapStatus st = table->status_at(now());
    log_.info(io::LogClass::ClockAdjust, path + ": " + std::to_string(table->entries().size()) +
                                             " entries, TAI-UTC " + std::to_string(st.tai_offset) +
                                             " s, expires " + utc_date(table->expires()));
    if (st.expired) {
        log_.warn(io::LogClass::ClockAdjust,
                  path + " expired on " + utc_date(table->expires()) +
                      ": it sets the TAI offset but no longer decides leap warnings; update it "
                      "(tzdata)");
    }
    leap_table_ = std::move(*table);
}

void Daemon::update_leap() {
    using ntp::LeapIndicator;
    const ntp::NtpInstant t = now();
    const int64_t second = t.nanos_since_prime_epoch() / ntp::kNanosPerSecond;
    int want = 0;
    int tai = 0;
    std::optional<int64_t> next_in;
    std::string why;
    file_announce_ = LeapIndicator::NoWarning;
    leap_file_current_ = false;
    if (leap_table_) {
        const ntp::LeapStatus st = leap_table_->status_at(t);
        tai = st.tai_offset;
        next_in = st.next_change_in;
        if (!st.expired) {
            leap_file_current_ = true;
            file_announce_ = st.announce;
            if (st.arm_kernel) want = st.announce == LeapIndicator::DeleteSecond ? -1 : 1;
            why = "leap seconds file";
        }
    }
    if (!leap_file_current_) {
        // The system peer's warning, acted on only on the last day of a month.
        const ntp::SystemState& sys = core_->system_state();
        const int64_t tomorrow = second - second % ntp::kSecondsPerDay + ntp::kSecondsPerDay;
        if (sys.synchronized() &&
            (sys.leap == LeapIndicator::InsertSecond || sys.leap == LeapIndicator::DeleteSecond)) {
            if (ntp::month_start(tomorrow) == tomorrow)
                want = sys.leap == LeapIndicator::InsertSecond ? 1 : -1;
            const int64_t until_tomorrow = tomorrow - second;
            next_in = next_in ? std::min(*next_in, until_tomorrow) : until_tomorrow;
            why = "warning from the sources";
        }
    }
    if (want != kernel_leap_) {
        int r = clock_->set_leap(want);
        if (r >= 0 && realtime_) r = realtime_->set_leap(want);
        if (r < 0) {
            log_.error(io::LogClass::ClockAdjust,
                       std::string("cannot set the kernel leap state: ") + std::strerror(-r));
        } else {
            const int64_t midnight = second - second % ntp::kSecondsPerDay + ntp::kSecondsPerDay;
            log_.warn(io::LogClass::ClockAdjust,
                      want == 0  ? std::string("kernel leap second disarmed")
                      : want > 0 ? "leap second insertion armed for the end of the day before " +
                                       utc_date(midnight) + " (" + why + ")"
                                 : "leap second deletion armed for the end of the day before " +
                                       utc_date(midnight) + " (" + why + ")");
            kernel_leap_ = want;
        }
    }
    if (tai > 0 && tai != kernel_tai_) {
        int r = clock_->set_tai(tai);
        if (r >= 0 && realtime_) r = realtime_->set_tai(tai);
        if (r < 0) {
            log_.error(io::LogClass::ClockAdjust,
                       std::string("cannot set the kernel TAI offset: ") + std::strerror(-r));
        } else {
            log_.info(io::LogClass::ClockAdjust,
                      "kernel TAI offset set to " + std::to_string(tai) + " s");
        }
        kernel_tai_ = tai;  // failed or not: do not retry every update
    }
    // Look again at the next boundary (and at least hourly).
    const int64_t wait = std::clamp<int64_t>(next_in.value_or(3600), 1, 3600);
    loop_->cancel_timer(leap_timer_);
    leap_timer_ = loop_->add_timer_after(std::chrono::seconds(wait), [this] {
        leap_timer_ = 0;
        update_leap();
    });
}

ntp::SystemState Daemon::served_state() const {
    ntp::SystemState st = core_->system_state();
    // A current leap file is authoritative for the warning we pass on.
    if (st.synchronized() && leap_file_current_) st.leap = file_announce_;
    return st;
}

void Daemon::steer_realtime() {
    const double mono =
        std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const io::RealtimeSteering::Update u = steering_->update(mono);
    if (u.waiting) {
        if (!steering_waiting_)
            log_.info(io::LogClass::ClockAdjust,
                      "CLOCK_REALTIME steering waits: " + clock_->name() + " is unsynchronised");
    } else if (u.error != 0) {
        log_.error(io::LogClass::ClockAdjust,
                   std::string("steering CLOCK_REALTIME failed: ") + std::strerror(-u.error));
    } else if (u.measured && u.servo.state == ntp::ServoState::Jump) {
        ++realtime_steps_;  // kernel stamps taken before it are on the old timescale
        char text[120];
        std::snprintf(text, sizeof text, "CLOCK_REALTIME stepped by %+.9f s to %s", u.servo.step_s,
                      clock_->name().c_str());
        log_.warn(io::LogClass::ClockAdjust, text);
    } else if (u.measured && u.servo.state != steering_state_) {
        char text[120];
        std::snprintf(text, sizeof text, "CLOCK_REALTIME steering %s (offset %+.9f s)",
                      u.servo.state == ntp::ServoState::Locked ? "locked" : "unlocked",
                      static_cast<double>(u.offset_ns) * 1e-9);
        log_.info(io::LogClass::ClockAdjust, text);
    }
    if (u.measured) steering_state_ = u.servo.state;
    if (u.waiting) steering_state_ = ntp::ServoState::Unlocked;
    steering_waiting_ = u.waiting;
    loop_->add_timer_after(1s, [this] { steer_realtime(); });
}

void Daemon::load_drift() {
    if (config_.clock.drift_file.empty()) return;
    std::ifstream in(config_.clock.drift_file);
    double ppm = 0;
    if (!(in >> ppm) || !std::isfinite(ppm) || std::fabs(ppm) > 500) return;
    if (clock_->set_frequency(ppm) < 0) {
        log_.warn(io::LogClass::ClockAdjust, "cannot set the frequency from the drift file");
        return;
    }
    log_.info(io::LogClass::ClockAdjust,
              "frequency " + std::to_string(ppm) + " ppm from " + config_.clock.drift_file);
}

void Daemon::save_drift() {
    timex tx{};
    if (config_.clock.drift_file.empty() || clock_->read(tx) < 0) return;
    if (!core_->system_state().synchronized()) return;  // only a frequency worth keeping
    const std::string tmp = config_.clock.drift_file + ".tmp";
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    char buf[64];
    // The base frequency, not a slew in progress.
    const double ppm = core_->discipline_status().updates > 0
                           ? core_->discipline_status().frequency * 1e6
                           : io::total_frequency_ppm(tx);
    const int n = std::snprintf(buf, sizeof buf, "%.6f\n", ppm);
    const bool ok = write(fd, buf, static_cast<size_t>(n)) == n && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp.c_str(), config_.clock.drift_file.c_str()) != 0) unlink(tmp.c_str());
}

void Daemon::schedule_drift_save() {
    loop_->add_timer_after(3600s, [this] {
        save_drift();
        schedule_drift_save();
    });
}

std::string Daemon::status_line() {
    const ntp::SystemState& s = core_->system_state();
    unsigned reachable = 0;
    const auto infos = core_->sources();
    for (const ntp::SourceInfo& i : infos) reachable += i.source->reach() != 0 ? 1 : 0;
    char buf[300];
    if (s.synchronized()) {
        std::snprintf(buf, sizeof buf,
                      "synchronised to %s, stratum %d, offset %+.6f s, %u/%zu sources reachable",
                      reference_id_text(s.reference_id, s.stratum).c_str(), s.stratum, s.offset,
                      reachable, infos.size());
    } else {
        std::snprintf(buf, sizeof buf, "not synchronised, %u/%zu sources reachable", reachable,
                      infos.size());
    }
    std::string line = buf;
    // The discipline's faults, so that a line saying "synchronised" does not
    // hide a clock that is not being corrected.
    const ntp::DisciplineStatus& d = core_->discipline_status();
    if (d.frequency_limited) line += ", frequency pinned";
    if (d.stalled) line += ", discipline stalled (restart " + std::to_string(d.restarts) + ")";
    return line;
}

void Daemon::check_status_change() {
    const ntp::SystemState& s = core_->system_state();
    if (workers_) workers_->publish(served_state());
    if (s.synchronized() == last_synchronized_ && s.stratum == last_stratum_) return;
    last_synchronized_ = s.synchronized();
    last_stratum_ = s.stratum;
    const std::string line = status_line();
    log_.info(io::LogClass::SourceState, line);
    if (on_status) on_status(line);
}

ctl::DaemonSnapshot Daemon::snapshot() {
    ctl::DaemonSnapshot snap;
    const ntp::NtpInstant t = now();
    const ntp::SystemState& sys = core_->system_state();
    const auto infos = core_->sources();

    ctl::StatusInfo& st = snap.status;
    st.version = kVersion;
    st.pid = getpid();
    st.uptime_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    st.io_backend = io::backend_name(loop_->backend());
    st.io_detail = loop_->describe();
    st.clock_backend = config::to_string(config_.clock.backend);
    st.clock_device = clock_->name();
    st.synchronized = sys.synchronized();
    st.stratum = sys.stratum;
    st.reference_id = sys.synchronized() ? reference_id_text(sys.reference_id, sys.stratum) : "-";
    st.leap = leap_text(sys.leap);
    st.sources = static_cast<unsigned>(infos.size());
    for (const ntp::SourceInfo& i : infos) st.sources_reachable += i.source->reach() != 0 ? 1 : 0;
    st.server_enabled = server_ != nullptr;
    if (server_) {
        ntp::ServerCounters c = server_->counters();
        if (workers_) workers_->add_counters(c);
        st.server_received = c.received;
        st.server_responded = c.replied;
        st.server_denied = c.denied;
        st.server_rate_limited = c.rate_limited_kod + c.rate_limited_dropped;
    }
    st.log_suppressed = log_.suppressed_total();
    if (leap_table_) {
        const ntp::LeapStatus ls = leap_table_->status_at(t);
        st.leap_file = config_.clock.leap_seconds_file;
        st.leap_file_expires_s =
            static_cast<double>(leap_table_->expires() - ntp::kNtpToUnixSeconds);
        if (ls.next_leap)
            st.next_leap_s = static_cast<double>(*ls.next_leap - ntp::kNtpToUnixSeconds);
        st.tai_offset = ls.tai_offset;
    }
    if (steering_) {
        st.realtime_steering = steering_waiting_     ? "waiting"
                               : steering_->locked() ? "locked"
                                                     : "unlocked";
        if (steering_->last() && steering_->last()->measured)
            st.realtime_offset_s = static_cast<double>(steering_->last()->offset_ns) * 1e-9;
        st.realtime_steps = realtime_steps_;
        st.replies_across_step = exchanges_across_step_;
    }

    st.discipline = ctl::discipline_view(*core_, t);

    // Root delay and dispersion as the server answers with them (served_state()).
    snap.tracking = ctl::tracking_view(*core_, served_state(), t);
    ctl::TrackingInfo& tr = snap.tracking;
    tr.reference_id = st.reference_id;
    tr.leap = st.leap;

    for (const ntp::SourceInfo& info : infos) {
        const ntp::NtpSource& src = *info.source;
        ctl::SourceInfo si = ctl::source_view(src, t);
        auto slot = sources_.find(src.id());
        si.name = slot != sources_.end() ? slot->second.name : "-";
        si.address = to_endpoint(src.config().address).address_string();
        si.kind = info.pool ? "pool" : "server";
        si.state = verdict_text(info.verdict, src.reach());
        if (sys.system_peer && *sys.system_peer == src.id()) {
            tr.reference_name = si.name + " (" + si.address + ")";
        }
        snap.sources.push_back(si);

        ctl::SourceStatsInfo stats = ctl::sourcestats_view(src, *core_, t);
        stats.name = si.name + " (" + si.address + ")";
        snap.sourcestats.push_back(stats);
    }

    timex tx{};
    const int state = clock_->read(tx);
    ctl::KernelInfo& k = snap.kernel;
    k.clock = clock_->name();
    if (state >= 0) {
        const double unit = (tx.status & STA_NANO) ? 1e-9 : 1e-6;
        k.available = true;
        k.state = state;
        k.state_name = io::clock_state_name(state);
        k.status = io::status_flag_names(tx.status);
        k.offset_s = static_cast<double>(tx.offset) * unit;
        k.frequency_ppm = io::total_frequency_ppm(tx);
        k.max_error_s = static_cast<double>(tx.maxerror) * 1e-6;
        k.est_error_s = static_cast<double>(tx.esterror) * 1e-6;
        k.time_constant = tx.constant;
        k.precision_s = static_cast<double>(tx.precision) * 1e-6;
        k.tolerance_ppm = static_cast<double>(tx.tolerance) / 65536.0;
        k.tick_s = static_cast<double>(tx.tick) * 1e-6;
        k.tai_offset = tx.tai;

        ctl::PpsInfo& p = snap.pps;
        p.signal = (tx.status & STA_PPSSIGNAL) != 0;
        p.available = p.signal || tx.calcnt > 0;
        p.discipline_frequency = (tx.status & STA_PPSFREQ) != 0;
        p.discipline_time = (tx.status & STA_PPSTIME) != 0;
        p.frequency_ppm = static_cast<double>(tx.ppsfreq) / 65536.0;
        p.jitter_s = static_cast<double>(tx.jitter) * unit;
        p.interval_log2 = tx.shift;
        p.stability_ppm = static_cast<double>(tx.stabil) / 65536.0;
        p.calibrations = tx.calcnt;
        p.jitter_exceeded = tx.jitcnt;
        p.calibration_errors = tx.errcnt;
        p.stability_exceeded = tx.stbcnt;
    }
    if (kernel_link_) kernel_link_->fill(snap.kernel, snap.pps);
    return snap;
}

}  // namespace nanotime::daemon
