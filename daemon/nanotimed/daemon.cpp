#include "nanotimed/daemon.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <sys/timex.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "packet/reference_id.hpp"

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;

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

// Resolves @host synchronously (numeric addresses never touch DNS).
std::vector<ntp::IpAddress> resolve(const std::string& host) {
    std::vector<ntp::IpAddress> out;
    if (auto ip = ntp::IpAddress::parse(host)) {
        out.push_back(*ip);
        return out;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
    std::set<ntp::IpAddress> seen;
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
        const ntp::SocketAddress sa =
            to_core(io::Endpoint::from_sockaddr(a->ai_addr, a->ai_addrlen));
        if (seen.insert(sa.ip).second) out.push_back(sa.ip);
    }
    freeaddrinfo(res);
    return out;
}

}  // namespace

ntp::SocketAddress to_core(const io::Endpoint& e) {
    ntp::SocketAddress a;
    a.port = e.port();
    if (e.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(e.sa());
        a.ip.family = ntp::AddressFamily::Ipv4;
        std::memcpy(a.ip.bytes.data(), &sin->sin_addr, 4);
    } else if (e.family() == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(e.sa());
        a.ip.family = ntp::AddressFamily::Ipv6;
        std::memcpy(a.ip.bytes.data(), &sin6->sin6_addr, 16);
        a.ip = a.ip.unmapped();
    }
    return a;
}

io::Endpoint to_endpoint(const ntp::SocketAddress& a) {
    if (a.ip.family == ntp::AddressFamily::Ipv4) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(a.port);
        std::memcpy(&sin.sin_addr, a.ip.bytes.data(), 4);
        return io::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    }
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(a.port);
    std::memcpy(&sin6.sin6_addr, a.ip.bytes.data(), 16);
    return io::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
}

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
      discipline_(*clock_, io::DisciplineConfig{config_.clock.step_threshold,
                                                config_.clock.panic_threshold}),
      core_(std::make_unique<ntp::ClientCore>(ntp::SystemConfig{})),
      started_(std::chrono::steady_clock::now()) {}

Daemon::~Daemon() {
    control_.reset();
    if (!config_.clock.drift_file.empty()) save_drift();
}

ntp::NtpInstant Daemon::now() const {
    const timespec ts = clock_->now();
    return ntp::NtpInstant::from_unix(
        ntp::Nanoseconds(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
}

ntp::NtpInstant Daemon::receive_time(const io::ReceivedDatagram& d) const {
    // Kernel RX timestamps are CLOCK_REALTIME: exact for the system clock.
    // For the nanoclock, realtime is steered to it, but read the clock itself.
    if (d.rx.software && config_.clock.backend == config::ClockBackendKind::System) {
        return ntp::NtpInstant::from_unix(ntp::Nanoseconds(
            int64_t{d.rx.software->tv_sec} * 1'000'000'000 + d.rx.software->tv_nsec));
    }
    return now();
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
    const config::ServerConfig& sc = config_.server;
    if (sc.enabled()) {
        ntp::ServerConfig server_config;
        for (const std::string& c : sc.allow) server_config.access.allow(*ntp::Cidr::parse(c));
        for (const std::string& c : sc.deny) server_config.access.deny(*ntp::Cidr::parse(c));
        if (sc.rate_limit.enabled) {
            ntp::RateLimitConfig rl;
            rl.interval = ntp::from_seconds(sc.rate_limit.interval);
            rl.burst = sc.rate_limit.burst;
            rl.kod_interval = ntp::from_seconds(sc.rate_limit.kod_interval);
            rl.memory_bytes = sc.rate_limit.memory;
            rl.ipv6_prefix = static_cast<uint8_t>(sc.rate_limit.ipv6_prefix);
            server_config.rate_limit = rl;
        }
        server_ = std::make_unique<ntp::NtpServer>(std::move(server_config), random_);
        for (const std::string& text : sc.listen) {
            auto ep = io::Endpoint::parse(text, 123);
            io::UdpOptions o;
            o.bind = *ep;
            o.rx_timestamps = true;
            const uint64_t id = loop_->open_udp(
                o, [this](const io::ReceivedDatagram& d) { on_server_datagram(d.socket, d); });
            server_sockets_.push_back(id);
            log_.info(io::LogClass::General,
                      "serving NTP on " + loop_->local_endpoint(id).to_string());
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
        control_ = std::make_unique<ctl::ControlServer>(
            *loop_, o, [this] { return snapshot(); },
            [this](ctl::Action a, const ctl::Caller& caller) {
                const std::string who = "uid " + std::to_string(caller.uid);
                if (a == ctl::Action::Reload) {
                    log_.info(io::LogClass::Control, "reload requested by " + who);
                    loop_->add_timer_after(0ms, [this] { reload(); });
                } else if (a == ctl::Action::MakeStep) {
                    log_.info(io::LogClass::Control, "step armed by " + who);
                    discipline_.arm_step();
                }
            });
    }
}

void Daemon::on_server_datagram(uint64_t socket, const io::ReceivedDatagram& d) {
    if (!server_) return;
    const ntp::NtpInstant rx = receive_time(d);
    const ntp::ServerResponse r =
        server_->handle(d.payload, to_core(d.peer), rx, now(), core_->system_state());
    if (r.decision == ntp::ServerDecision::Drop) return;
    if (r.decision == ntp::ServerDecision::KissOfDeath) {
        log_.debug(io::LogClass::RateLimited, "RATE kiss-o'-death to " + d.peer.address_string());
    }
    loop_->send_udp(socket, d.peer, r.bytes(), d.local.empty() ? nullptr : &d.local);
}

void Daemon::start() {
    load_drift();
    schedule_drift_save();
    add_sources();
    log_.info(io::LogClass::General,
              std::string("nanotimed ") + kVersion + " running: " + loop_->describe() + ", clock " +
                  clock_->name() + ", " + std::to_string(config_.sources.size()) +
                  " configured sources");
}

void Daemon::add_sources() {
    ntp::ClientActions actions;
    for (const config::SourceConfig& s : config_.sources) {
        ntp::SourceConfig sc;
        sc.minpoll = static_cast<int8_t>(s.minpoll);
        sc.maxpoll = static_cast<int8_t>(s.maxpoll);
        sc.iburst = s.iburst;
        if (s.kind == config::SourceKind::Pool) {
            ntp::PoolConfig pc;
            pc.hostname = s.address;
            pc.port = s.port;
            pc.desired_members = s.max_sources;
            pc.source = sc;
            const ntp::PoolId id = core_->add_pool(pc, actions);
            pools_[id] = s.address;
            continue;
        }
        const std::vector<ntp::IpAddress> addrs = resolve(s.address);
        if (addrs.empty()) {
            log_.warn(io::LogClass::SourceState,
                      "cannot resolve server '" + s.address + "'; retrying in 64 s");
            const config::SourceConfig copy = s;
            retry_timers_.push_back(loop_->add_timer_after(64s, [this, copy] {
                config::Config one = config_;
                one.sources = {copy};
                std::swap(one.sources, config_.sources);
                add_sources();
                std::swap(one.sources, config_.sources);
            }));
            continue;
        }
        sc.address = ntp::SocketAddress{addrs.front(), s.port};
        const ntp::SourceId id = core_->add_server(sc, random_, actions);
        sources_[id].name = s.address;
    }
    carry_out(std::move(actions));
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
    // Pools cannot be removed from the core one by one: start a fresh core.
    for (auto& [id, slot] : sources_) {
        loop_->cancel_timer(slot.timer);
        if (slot.socket) loop_->close_udp(slot.socket);
    }
    sources_.clear();
    pools_.clear();
    core_ = std::make_unique<ntp::ClientCore>(ntp::SystemConfig{});
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
            discipline(dc->update);
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
    const ntp::SourceId source = send.source;
    const uint64_t request_id = send.request.request_id;
    try {
        slot.socket =
            loop_->open_udp(o, [this, source, request_id, to](const io::ReceivedDatagram& d) {
                if (!(d.peer == to)) {
                    log_.debug(io::LogClass::BadPacket,
                               "reply from unexpected address " + d.peer.to_string());
                    return;
                }
                auto it = sources_.find(source);
                if (it != sources_.end() && it->second.socket == d.socket) {
                    loop_->close_udp(d.socket);
                    it->second.socket = 0;
                }
                carry_out(core_->handle_packet(request_id, d.payload, receive_time(d), random_));
            });
    } catch (const std::system_error& e) {
        log_.warn(io::LogClass::Io, "cannot open a socket for " + to.to_string() + ": " + e.what());
        return;
    }
    loop_->send_udp(slot.socket, to, send.request.packet);
}

void Daemon::resolve_pool(ntp::PoolId pool, const std::string& hostname) {
    // Synchronous: getaddrinfo blocks the loop for the resolver's timeout at
    // worst. Pools resolve rarely (start, replacement), see the report.
    const std::vector<ntp::IpAddress> addrs = resolve(hostname);
    if (addrs.empty()) {
        log_.warn(io::LogClass::SourceState, "cannot resolve pool '" + hostname + "'");
        carry_out(core_->handle_resolve_failed(pool));
        return;
    }
    carry_out(core_->handle_resolved(pool, addrs, now(), random_));
}

void Daemon::discipline(const ntp::ClockUpdate& update) {
    const io::Correction c = discipline_.apply(update.offset);
    char text[160];
    switch (c) {
        case io::Correction::Slewed:
            std::snprintf(text, sizeof text, "offset %+.9f s handed to the kernel PLL",
                          update.offset);
            log_.debug(io::LogClass::ClockAdjust, text);
            break;
        case io::Correction::Stepped:
            std::snprintf(text, sizeof text, "clock stepped by %+.9f s", update.offset);
            log_.warn(io::LogClass::ClockAdjust, text);
            carry_out(core_->handle_clock_step(now()));
            break;
        case io::Correction::Panic:
            std::snprintf(text, sizeof text,
                          "offset %+.3f s exceeds the panic threshold (%.0f s): not adjusting; "
                          "nanotimectl makestep overrides",
                          update.offset, config_.clock.panic_threshold);
            log_.error(io::LogClass::ClockAdjust, text);
            break;
        case io::Correction::Failed:
            log_.error(io::LogClass::ClockAdjust, std::string("clock adjustment failed: ") +
                                                      std::strerror(-discipline_.last_error()));
            break;
    }
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
    const int n = std::snprintf(buf, sizeof buf, "%.6f\n", static_cast<double>(tx.freq) / 65536.0);
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
    char buf[200];
    if (s.synchronized()) {
        std::snprintf(buf, sizeof buf,
                      "synchronised to %s, stratum %d, offset %+.6f s, %u/%zu sources reachable",
                      reference_id_text(s.reference_id, s.stratum).c_str(), s.stratum, s.offset,
                      reachable, infos.size());
    } else {
        std::snprintf(buf, sizeof buf, "not synchronised, %u/%zu sources reachable", reachable,
                      infos.size());
    }
    return buf;
}

void Daemon::check_status_change() {
    const ntp::SystemState& s = core_->system_state();
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
        const ntp::ServerCounters& c = server_->counters();
        st.server_received = c.received;
        st.server_responded = c.replied;
        st.server_denied = c.denied;
        st.server_rate_limited = c.rate_limited_kod + c.rate_limited_dropped;
    }
    st.log_suppressed = log_.suppressed_total();

    ctl::TrackingInfo& tr = snap.tracking;
    tr.reference_id = st.reference_id;
    tr.stratum = sys.stratum;
    tr.leap = st.leap;
    if (sys.has_reference_time)
        tr.reference_time_s = ntp::to_seconds(ntp::Nanoseconds(sys.reference_time.to_unix()));
    tr.system_offset_s = sys.offset;
    tr.jitter_s = sys.jitter;
    tr.root_delay_s = sys.root_delay;
    tr.root_dispersion_s = sys.root_dispersion_at(t);

    for (const ntp::SourceInfo& info : infos) {
        const ntp::NtpSource& src = *info.source;
        const ntp::SourceSnapshot ss = src.snapshot();
        ctl::SourceInfo si;
        auto slot = sources_.find(src.id());
        si.name = slot != sources_.end() ? slot->second.name : "-";
        si.address = to_endpoint(src.config().address).address_string();
        si.kind = info.pool ? "pool" : "server";
        si.state = verdict_text(info.verdict, src.reach());
        si.stratum = ss.stratum;
        si.poll = src.poll();
        si.reach = src.reach();
        if (ss.has_statistics) {
            si.last_rx_ago_s = ntp::to_seconds(t - ss.statistics.time);
            si.offset_s = ss.statistics.offset;
            si.delay_s = ss.statistics.delay;
            si.dispersion_s = ss.statistics.dispersion;
            si.jitter_s = ss.statistics.jitter;
        }
        if (sys.system_peer && *sys.system_peer == src.id()) {
            tr.reference_name = si.name + " (" + si.address + ")";
            tr.update_interval_s = std::ldexp(1.0, si.poll);
        }
        snap.sources.push_back(si);

        ctl::SourceStatsInfo stats;
        stats.name = si.name + " (" + si.address + ")";
        stats.samples = static_cast<unsigned>(src.filter().valid_stages());
        std::optional<ntp::NtpInstant> oldest, newest;
        for (const ntp::FilterStage& stage : src.filter().stages()) {
            if (!stage.valid()) continue;
            if (!oldest || stage.time < *oldest) oldest = stage.time;
            if (!newest || stage.time > *newest) newest = stage.time;
        }
        if (oldest) stats.span_s = ntp::to_seconds(*newest - *oldest);
        stats.offset_s = si.offset_s;
        stats.delay_s = si.delay_s;
        stats.jitter_s = si.jitter_s;
        stats.dispersion_s = si.dispersion_s;
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
        k.frequency_ppm = static_cast<double>(tx.freq) / 65536.0;
        k.max_error_s = static_cast<double>(tx.maxerror) * 1e-6;
        k.est_error_s = static_cast<double>(tx.esterror) * 1e-6;
        k.time_constant = tx.constant;
        k.precision_s = static_cast<double>(tx.precision) * 1e-6;
        k.tolerance_ppm = static_cast<double>(tx.tolerance) / 65536.0;
        k.tick_s = static_cast<double>(tx.tick) * 1e-6;
        k.tai_offset = tx.tai;
        tr.frequency_ppm = k.frequency_ppm;

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
    return snap;
}

}  // namespace nanotime::daemon
