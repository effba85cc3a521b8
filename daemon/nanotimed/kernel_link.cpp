// kernel_link.cpp - the nanoclock modules' netlink channel, PPS bindings and bridges
// as nanotimed uses them (see kernel_link.hpp).
#include "nanotimed/kernel_link.hpp"

#include <libnanoclock.h>
#include <linux/nanoclock.h>
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <system_error>

namespace nanotime::daemon {
namespace {

using io::LogClass;

std::optional<uint32_t> clock_index_of(const std::string& device, std::string* error) {
    nanoclock* nc = nanoclock_open_path(device.c_str(), 0);
    struct nanoclock_info info {};
    const bool ok = nc != nullptr && nanoclock_info(nc, &info) == 0;
    if (!ok) *error = device + ": " + std::strerror(errno);
    if (nc != nullptr) nanoclock_close(nc);
    if (!ok) return std::nullopt;
    return info.index;
}

kernel::PpsEdge edge_of(config::PpsEdgeKind e) {
    return e == config::PpsEdgeKind::Clear ? kernel::PpsEdge::Clear : kernel::PpsEdge::Assert;
}

timespec realtime_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

std::string flags_text(bool time, bool freq) {
    if (time && freq) return "time and frequency";
    if (time) return "time";
    if (freq) return "frequency";
    return "no discipline";
}

}  // namespace

KernelLink::KernelLink(io::EventLoop& loop, io::RateLimitedLog& log, std::string clock_device)
    : loop_(loop), log_(log), clock_device_(std::move(clock_device)) {}

KernelLink::~KernelLink() {
    for (auto& [path, b] : bridges_)
        if (b->timer) loop_.cancel_timer(b->timer);
    if (retry_timer_) loop_.cancel_timer(retry_timer_);
    if (watch_) loop_.unwatch_fd(watch_);
}

void KernelLink::open_devices(const std::vector<config::PpsConfig>& pps) {
    try {
        channel_ = std::make_unique<kernel::KernelChannel>();
    } catch (const std::system_error& e) {
        channel_error_ = e.what();
        log_.error(LogClass::Kernel, std::string("no netlink channel to nanoclock: ") + e.what());
    }
    std::string why;
    clock_index_ = clock_index_of(clock_device_, &why);
    if (!clock_index_) log_.error(LogClass::Kernel, "cannot identify the nanoclock: " + why);
    for (const config::PpsConfig& p : pps) {
        bindings_.push_back(Binding{p, std::nullopt, {}});
        if (!p.device.empty()) open_bridge(p);
    }
}

std::optional<uint32_t> KernelLink::source_index(const std::string& name) const {
    for (const auto& [index, s] : sources_)
        if (s.name == name) return index;
    return std::nullopt;
}

void KernelLink::open_bridge(const config::PpsConfig& p) {
    auto b = std::make_unique<Bridge>();
    b->config = p;
    b->core = kernel::PpsBridgeCore(std::llround(p.offset * 1e9));
    try {
        b->device = std::make_unique<kernel::PpsDevice>(p.device, edge_of(p.edge));
        log_.info(LogClass::Kernel, "bridging " + p.device + " (" + config::to_string(p.edge) +
                                        " edges) into PPS source " + p.source);
    } catch (const std::system_error& e) {
        b->open_error = e.what();
        log_.error(LogClass::Kernel, std::string("PPS bridge: ") + e.what());
    }
    bridges_[p.device] = std::move(b);
}

void KernelLink::start() {
    started_ = true;
    if (!channel_) return;
    watch_ = loop_.watch_fd(channel_->event_fd(), [this] { on_events(); });
    log_.info(LogClass::Kernel,
              std::string("nanoclock netlink: ") +
                  (channel_->has_clock_family() ? "clock family found" : "no clock family") +
                  (channel_->has_pps_family() ? ", PPS family found" : ", no PPS family") +
                  (channel_->events_missing().empty()
                       ? ""
                       : "; cannot follow events of " + channel_->events_missing()));
    if (clock_index_) {
        auto c = channel_->get_clock(*clock_index_);
        if (c.status) clock_state_ = c.value;
    }
    refresh_sources();
    bind_all();
    for (auto& [path, b] : bridges_)
        if (b->device) schedule_bridge(*b, 0);
    schedule_retry();
}

void KernelLink::schedule_retry() {
    retry_timer_ = loop_.add_timer_after(kRetryPeriod, [this] {
        retry_timer_ = 0;
        if (channel_->refresh_families())
            log_.info(LogClass::Kernel, "nanoclock netlink families found; events followed");
        if (clock_index_ && !clock_state_) {
            auto c = channel_->get_clock(*clock_index_);
            if (c.status) clock_state_ = c.value;
        }
        refresh_sources();
        bind_all();
        schedule_retry();
    });
}

void KernelLink::refresh_sources() {
    if (!channel_->has_pps_family() && bindings_.empty()) return;  // nothing to look for
    auto r = channel_->pps_sources();
    if (!r.status) {
        sources_error_ = r.status.message;
        return;
    }
    sources_error_.clear();
    sources_.clear();
    for (kernel::PpsSourceState& s : r.value) sources_[s.index] = std::move(s);
    // A binding whose source vanished (module reloaded) or changed under us
    // (sysfs, another tool) is made again.
    for (Binding& b : bindings_) {
        if (!b.source) continue;
        auto it = sources_.find(*b.source);
        if (it == sources_.end() || it->second.name != b.config.source ||
            it->second.clock != static_cast<int32_t>(clock_index_.value_or(-1)) ||
            it->second.pps_time != b.config.pps_time ||
            it->second.pps_freq != b.config.pps_frequency) {
            log_.warn(LogClass::Kernel,
                      "PPS source " + b.config.source + " lost its binding; binding it again");
            b.source.reset();
        }
    }
}

void KernelLink::bind_all() {
    for (Binding& b : bindings_) {
        if (b.source) continue;
        std::string error;
        const std::optional<uint32_t> index = source_index(b.config.source);
        if (!clock_index_) {
            error = "the nanoclock's index is unknown";
        } else if (!index) {
            error = sources_error_.empty() ? "no nanoclock-pps source named '" + b.config.source +
                                                 "' (is its module loaded?)"
                                           : sources_error_;
        } else {
            auto r = channel_->bind_pps_source(*index, static_cast<int32_t>(*clock_index_),
                                               b.config.pps_time, b.config.pps_frequency);
            if (r.status) {
                b.source = index;
                sources_[*index] = r.value;
                b.error.clear();
                log_.info(LogClass::Kernel,
                          "PPS source " + b.config.source + " disciplines nanoclock" +
                              std::to_string(*clock_index_) + " (" +
                              flags_text(b.config.pps_time, b.config.pps_frequency) + ")");
                continue;
            }
            error = "binding refused: " + r.status.message;
        }
        if (error != b.error)  // say it once, not every retry
            log_.warn(LogClass::Kernel, "PPS source " + b.config.source + ": " + error);
        b.error = error;
    }
}

void KernelLink::reconfigure(const std::vector<config::PpsConfig>& pps) {
    // Release what is no longer configured.
    for (const Binding& old : bindings_) {
        bool kept = false;
        for (const config::PpsConfig& p : pps) kept = kept || p.source == old.config.source;
        if (!kept && old.source && channel_ && clock_index_) {
            // Its discipline bits off the clock first, then unbound.
            auto r = channel_->bind_pps_source(*old.source, static_cast<int32_t>(*clock_index_),
                                               false, false);
            if (r.status) r = channel_->bind_pps_source(*old.source, -1, false, false);
            log_.info(LogClass::Kernel,
                      "PPS source " + old.config.source +
                          (r.status ? " released" : " not released: " + r.status.message));
        }
    }
    bindings_.clear();
    for (const config::PpsConfig& p : pps) bindings_.push_back(Binding{p, std::nullopt, {}});
    for (auto it = bridges_.begin(); it != bridges_.end();) {
        bool same = false;
        for (const config::PpsConfig& p : pps)
            same = same ||
                   (p.device == it->first && p.source == it->second->config.source &&
                    p.edge == it->second->config.edge && p.offset == it->second->config.offset);
        if (same) {
            ++it;
            continue;
        }
        if (it->second->timer) loop_.cancel_timer(it->second->timer);
        it = bridges_.erase(it);
    }
    for (const config::PpsConfig& p : pps) {
        if (p.device.empty() || bridges_.count(p.device)) continue;
        open_bridge(p);
        Bridge& b = *bridges_[p.device];
        if (started_ && b.device && channel_) schedule_bridge(b, 0);
    }
    if (started_ && channel_) {
        refresh_sources();
        bind_all();
    }
}

void KernelLink::on_events() {
    channel_->drain_events([this](const kernel::KernelEvent& ev) {
        if (ev.edge) {
            sources_[ev.edge->index] = *ev.edge;
        } else if (ev.clock && clock_index_ && ev.clock->index == *clock_index_) {
            on_clock_event(*ev.clock);
        }
    });
}

void KernelLink::on_clock_event(const kernel::ClockState& c) {
    clock_state_ = c;
    if (!c.event) return;
    const std::string name = kernel::clock_event_name(*c.event);
    ++clock_events_[name];
    switch (*c.event) {
        case NANOCLOCK_EV_PPS_GAINED:
        case NANOCLOCK_EV_PPS_LOST:
        case NANOCLOCK_EV_LEAP_ARMED:
        case NANOCLOCK_EV_LEAP_APPLIED:
        case NANOCLOCK_EV_CLOCK_SET:
            log_.info(LogClass::Kernel, c.name + ": " + name);
            break;
        default:  // status changes and per-second PPS statistics: counted only
            break;
    }
}

void KernelLink::schedule_bridge(Bridge& b, int64_t delay_ns) {
    const std::string path = b.config.device;
    b.timer = loop_.add_timer_after(std::chrono::nanoseconds(delay_ns), [this, path] {
        auto it = bridges_.find(path);
        if (it == bridges_.end()) return;
        it->second->timer = 0;
        fetch_bridge(*it->second);
    });
}

void KernelLink::fetch_bridge(Bridge& b) {
    kernel::PpsFetch f;
    const int r = b.device->fetch(f);
    const timespec now = realtime_now();
    if (r < 0) {
        const std::string why = b.config.device + ": time_pps_fetch: " + std::strerror(-r);
        b.core.on_fetch_error(why);
        log_.warn(LogClass::Kernel, why);
    } else if (auto stamp = b.core.on_fetch(f, now)) {
        const std::optional<uint32_t> index = source_index(b.config.source);
        if (!index) {
            b.core.on_inject_result(-ENOENT, "no PPS source named '" + b.config.source + "'");
        } else {
            const kernel::RequestStatus st = channel_->inject(*index, *stamp);
            b.core.on_inject_result(st.error, st.message);
            if (!st)
                log_.warn(LogClass::Kernel, "PPS bridge " + b.config.device + " -> " +
                                                b.config.source + ": edge refused: " + st.message);
        }
    }
    schedule_bridge(b, b.core.next_fetch_delay_ns(realtime_now()));
}

void KernelLink::fill(ctl::KernelInfo& k, ctl::PpsInfo& p) const {
    if (!channel_) {
        k.netlink = "unavailable: " + channel_error_;
    } else if (!channel_->has_clock_family()) {
        k.netlink = "nanoclock family not found";
    } else {
        k.netlink = "ok";
    }
    if (clock_state_) k.ptp_index = clock_state_->ptp_index;
    if (channel_) {
        k.events = channel_->counters().events;
        k.events_lost = channel_->counters().events_lost;
    }
    for (const auto& [name, n] : clock_events_)
        k.last_events.push_back(name + " " + std::to_string(n));

    for (const auto& [index, s] : sources_) {
        ctl::PpsSourceInfo i;
        i.name = s.name;
        i.kind = s.kind;
        i.pps_device = s.pps_index ? static_cast<int>(*s.pps_index) : -1;
        i.clock = s.clock;
        i.time = s.pps_time;
        i.frequency = s.pps_freq;
        i.edges = s.edges;
        i.fed = s.fed;
        i.rejected = s.rejected;
        i.popcorn = s.popcorn;
        i.gaps = s.gaps;
        i.phase_s = static_cast<double>(s.phase_ns) * 1e-9;
        i.jitter_s = static_cast<double>(s.jitter_ns) * 1e-9;
        i.wander_s = static_cast<double>(s.wander_ns) * 1e-9;
        i.cost_mean_s = static_cast<double>(s.cost_mean_ns) * 1e-9;
        i.cost_max_s = static_cast<double>(s.cost_max_ns) * 1e-9;
        for (const Binding& b : bindings_) {
            if (b.config.source != s.name) continue;
            i.configured = true;
            i.binding_error = b.error;
        }
        p.sources.push_back(std::move(i));
    }
    // Configured sources the kernel does not have (yet).
    for (const Binding& b : bindings_) {
        if (source_index(b.config.source)) continue;  // listed above
        ctl::PpsSourceInfo i;
        i.name = b.config.source;
        i.kind = "?";
        i.configured = true;
        i.binding_error = b.error.empty() ? "not found" : b.error;
        p.sources.push_back(std::move(i));
    }
    const timespec now = realtime_now();
    for (const auto& [path, b] : bridges_) {
        ctl::PpsBridgeInfo i;
        i.device = path;
        i.source = b->config.source;
        i.edge = config::to_string(b->config.edge);
        i.offset_s = b->config.offset;
        i.open = b->device != nullptr;
        i.signal = b->core.signal(now);
        const kernel::PpsBridgeCounters& c = b->core.counters();
        i.edges = c.edges;
        i.injected = c.injected;
        i.missed = c.missed;
        i.stale = c.stale + c.future + c.not_after_previous;
        i.refused = c.inject_errors;
        i.fetch_errors = c.fetch_errors;
        i.last_error = b->device ? b->core.last_error() : b->open_error;
        p.bridges.push_back(std::move(i));
    }
    if (!p.sources.empty() || !p.bridges.empty()) p.available = true;
}

}  // namespace nanotime::daemon
