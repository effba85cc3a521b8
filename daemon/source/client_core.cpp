#include "source/client_core.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "packet/reference_id.hpp"
#include "source/pulse_numbering.hpp"

namespace nanotime::ntp {
namespace {

// The clock's frequency error bound added to the estimate's own (chrony's
// maxclockerror default): how fast the served root dispersion grows (s/s).
constexpr double kClockErrorRate = 1e-6;

}  // namespace

ClientCore::ClientCore(SystemConfig system, ControllerConfig controller, double initial_frequency)
    : system_(std::move(system)), ledger_(initial_frequency), controller_(controller) {}

SourceId ClientCore::spawn(const SourceConfig& config, std::optional<PoolId> pool,
                           RandomSource& random, ClientActions& out) {
    const SourceId id = next_source_++;
    Entry entry;
    entry.source = std::make_unique<NtpSource>(id, config, &ledger_);
    entry.pool = pool;
    entry.verdict.id = id;
    SourceActions start = entry.source->start(random);
    sources_.emplace(id, std::move(entry));
    for (const SourceAction& action : start) {
        if (auto* timer = std::get_if<SetTimer>(&action))
            out.push_back(SetSourceTimer{id, timer->after});
    }
    return id;
}

SourceId ClientCore::add_server(const SourceConfig& config, RandomSource& random,
                                ClientActions& out) {
    return spawn(config, std::nullopt, random, out);
}

SourceId ClientCore::add_refclock(const RefclockConfig& config, ClientActions& out) {
    const SourceId id = next_source_++;
    Entry entry;
    entry.refclock = std::make_unique<RefclockSource>(id, config, &ledger_);
    entry.verdict.id = id;
    for (const SourceAction& action : entry.refclock->start()) {
        if (const auto* timer = std::get_if<SetTimer>(&action))
            out.push_back(SetSourceTimer{id, timer->after});
    }
    sources_.emplace(id, std::move(entry));
    return id;
}

void ClientCore::handle_refclock_sample(SourceId id, const RefclockSample& sample) {
    auto it = sources_.find(id);
    if (it != sources_.end() && it->second.refclock) it->second.refclock->add_sample(sample);
}

void ClientCore::handle_refclock_pulse(SourceId id, NtpInstant edge, NtpInstant now) {
    auto it = sources_.find(id);
    if (it == sources_.end() || !it->second.refclock) return;
    RefclockSource& pulse = *it->second.refclock;
    const RefclockConfig& config = pulse.config();
    PulseOutcome outcome;
    if (config.lock) {
        std::optional<RefclockSample> reading;
        for (const auto& [other_id, other] : sources_) {
            if (other_id != id && other.refclock &&
                other.refclock->config().reference_id == *config.lock) {
                reading = other.refclock->last_reading();
                break;
            }
        }
        outcome = number_by_lock(edge, config.offset, reading, reference_id_to_ascii(*config.lock));
    } else {
        // The local clock numbers the second only while something that is
        // not a pulse holds it (an NTP server, a full-time refclock).
        SystemNumbering system;
        const SystemState& state = system_.state();
        system.synchronised = state.synchronized();
        system.leap = state.leap;
        system.error_bound = std::fabs(state.offset) + state.root_distance_at(now);
        for (const auto& [other_id, other] : sources_) {
            const bool selected = other.verdict.status == SourceStatus::Survivor ||
                                  other.verdict.status == SourceStatus::SystemPeer;
            const bool is_pulse = other.refclock && other.refclock->config().pulse;
            if (selected && !is_pulse) system.numbering_source_selected = true;
        }
        outcome = number_by_system(edge, config.offset, system);
    }
    if (const auto* refusal = std::get_if<PulseRefusal>(&outcome)) {
        pulse.reject(refusal->reason, refusal->detail);
        return;
    }
    pulse.add_sample(std::get<RefclockSample>(outcome));
}

void ClientCore::handle_refclock_reject(SourceId id, RefclockReject reason,
                                        const std::string& detail) {
    auto it = sources_.find(id);
    if (it != sources_.end() && it->second.refclock) it->second.refclock->reject(reason, detail);
}

PoolId ClientCore::add_pool(const PoolConfig& config, ClientActions& out) {
    const PoolId id = next_pool_++;
    pools_.emplace(id, Pool(config));
    resolving_[id] = true;
    out.push_back(Resolve{id, config.hostname});
    return id;
}

void ClientCore::drop(SourceId id, NtpInstant now, RemovalReason reason, ClientActions& out) {
    auto it = sources_.find(id);
    if (it == sources_.end()) return;
    if (it->second.request_id) requests_.erase(*it->second.request_id);
    if (it->second.pool) {
        auto pool = pools_.find(*it->second.pool);
        if (pool != pools_.end())
            pool->second.remove_member(id, now, reason != RemovalReason::Removed);
    }
    sources_.erase(it);
    out.push_back(SourceRemoved{id, reason});
}

void ClientCore::remove_source(SourceId id, NtpInstant now, ClientActions& out) {
    drop(id, now, RemovalReason::Removed, out);
}

void ClientCore::remove_pool(PoolId id, NtpInstant now, ClientActions& out) {
    if (pools_.find(id) == pools_.end()) return;
    std::vector<SourceId> members;
    for (const auto& [source, entry] : sources_)
        if (entry.pool == id) members.push_back(source);
    for (SourceId source : members) drop(source, now, RemovalReason::Removed, out);
    pools_.erase(id);
    resolving_.erase(id);
}

void ClientCore::apply(SourceId id, SourceActions actions, NtpInstant now, RandomSource& random,
                       ClientActions& out, bool& select) {
    for (SourceAction& action : actions) {
        auto it = sources_.find(id);
        if (it == sources_.end()) return;
        Entry& entry = it->second;
        if (auto* send = std::get_if<SendRequest>(&action)) {
            if (entry.request_id) requests_.erase(*entry.request_id);
            entry.request_id = send->request_id;
            requests_[send->request_id] = id;
            out.push_back(SendTo{id, std::move(*send)});
        } else if (auto* timer = std::get_if<SetTimer>(&action)) {
            out.push_back(SetSourceTimer{id, timer->after});
        } else if (std::holds_alternative<UpdateSystem>(action)) {
            select = true;
        } else if (auto* demobilize = std::get_if<Demobilize>(&action)) {
            const std::optional<PoolId> pool = entry.pool;
            drop(id, now,
                 demobilize->reason == DemobilizeReason::KissRstr ? RemovalReason::KissRstr
                                                                  : RemovalReason::KissDeny,
                 out);
            select = true;
            if (pool) replenish(*pool, now, random, out);
            return;
        } else if (std::holds_alternative<KeyExchange>(action)) {
            const SourceConfig& c = entry.source->config();
            out.push_back(NtsKeyExchange{id, SocketAddress{c.address.ip, c.nts_ke_port}});
        } else if (auto* reset = std::get_if<Reset>(&action)) {
            select = true;
            if (reset->reason == ResetReason::Unreachable && entry.pool) {
                const PoolId pool = *entry.pool;
                drop(id, now, RemovalReason::Unreachable, out);
                replenish(pool, now, random, out);
                return;
            }
        }
    }
}

ClientActions ClientCore::handle_nts_keys(SourceId id, nts::NtsClient client,
                                          SocketAddress ntp_server, NtpInstant now,
                                          RandomSource& random) {
    ClientActions out;
    auto it = sources_.find(id);
    if (it == sources_.end() || !it->second.source) return out;
    bool select = false;
    apply(id, it->second.source->set_nts(std::move(client), ntp_server), now, random, out, select);
    if (select) run_selection(now, random, out);
    return out;
}

void ClientCore::handle_nts_failure(SourceId id) {
    auto it = sources_.find(id);
    if (it != sources_.end() && it->second.source) it->second.source->nts_failed();
}

void ClientCore::replenish(PoolId id, NtpInstant now, RandomSource& random, ClientActions& out) {
    auto it = pools_.find(id);
    if (it == pools_.end()) return;
    Pool& pool = it->second;
    for (const SocketAddress& address : pool.take_spare(now)) {
        SourceConfig config = pool.config().source;
        config.address = address;
        pool.add_member(spawn(config, id, random, out), address);
    }
    if (pool.wants_members() && !resolving_[id]) {
        resolving_[id] = true;
        out.push_back(Resolve{id, pool.config().hostname});
    }
}

void ClientCore::run_selection(NtpInstant now, RandomSource& random, ClientActions& out) {
    std::vector<SourceSnapshot> snapshots;
    snapshots.reserve(sources_.size());
    for (const auto& [id, entry] : sources_) snapshots.push_back(entry.selectable().snapshot());
    const SelectionOutcome outcome = system_.select(snapshots, now);
    std::vector<std::pair<SourceId, PoolId>> replace;
    for (const SourceVerdict& verdict : outcome.verdicts) {
        Entry& entry = sources_.at(verdict.id);
        entry.verdict = verdict;
        if (!entry.pool) continue;
        Pool& pool = pools_.at(*entry.pool);
        // Only a verdict reached while a majority exists says "falseticker".
        const bool falseticker = verdict.status == SourceStatus::Falseticker && outcome.majority;
        if (pool.record_falseticker(verdict.id, falseticker)) {
            replace.emplace_back(verdict.id, *entry.pool);
        }
    }
    discipline(outcome, now, out);
    for (const auto& [source, pool] : replace) {
        drop(source, now, RemovalReason::Falseticker, out);
        replenish(pool, now, random, out);
    }
}

ClientActions ClientCore::handle_source_timer(SourceId id, NtpInstant now, RandomSource& random) {
    ClientActions out;
    auto it = sources_.find(id);
    if (it == sources_.end()) return out;
    bool select = false;
    if (it->second.refclock) {
        apply(id, it->second.refclock->handle_timer(now), now, random, out, select);
    } else {
        apply(id, it->second.source->handle_timer(now, random), now, random, out, select);
    }
    if (select) run_selection(now, random, out);
    for (ClientAction& a : check_health(now)) out.push_back(std::move(a));
    return out;
}

bool ClientCore::burst(SourceId id, unsigned requests, NtpInstant now, RandomSource& random,
                       ClientActions& out) {
    auto it = sources_.find(id);
    if (it == sources_.end() || !it->second.source) return false;
    bool select = false;
    apply(id, it->second.source->start_burst(requests), now, random, out, select);
    return true;
}

bool ClientCore::set_online(SourceId id, bool online, NtpInstant now, RandomSource& random,
                            ClientActions& out) {
    auto it = sources_.find(id);
    if (it == sources_.end() || !it->second.source) return false;
    bool select = false;
    apply(id, it->second.source->set_online(online, random), now, random, out, select);
    return true;
}

bool ClientCore::set_poll_limits(SourceId id, int8_t minpoll, int8_t maxpoll) {
    auto it = sources_.find(id);
    if (it == sources_.end() || !it->second.source) return false;
    return it->second.source->set_poll_limits(minpoll, maxpoll);
}

ClientActions ClientCore::handle_packet(uint64_t request_id, std::span<const uint8_t> bytes,
                                        NtpInstant receive_time, RandomSource& random,
                                        StampSource receive_source) {
    ClientActions out;
    auto request = requests_.find(request_id);
    if (request == requests_.end()) return out;  // late or unknown: nobody is waiting
    const SourceId id = request->second;
    auto it = sources_.find(id);
    if (it == sources_.end()) return out;
    bool select = false;
    apply(id, it->second.source->handle_packet(bytes, request_id, receive_time, receive_source),
          receive_time, random, out, select);
    if (auto still = sources_.find(id);
        still != sources_.end() && !still->second.source->outstanding_request()) {
        requests_.erase(request_id);
        still->second.request_id.reset();
    }
    if (select) run_selection(receive_time, random, out);
    return out;
}

bool ClientCore::handle_transmit_timestamp(uint64_t request_id, NtpInstant sent) {
    auto request = requests_.find(request_id);
    if (request == requests_.end()) return false;
    auto it = sources_.find(request->second);
    if (it == sources_.end()) return false;
    return it->second.source->handle_transmit_timestamp(request_id, sent);
}

ClientActions ClientCore::handle_resolved(PoolId id, const std::vector<IpAddress>& addresses,
                                          NtpInstant now, RandomSource& random) {
    ClientActions out;
    auto it = pools_.find(id);
    if (it == pools_.end()) return out;
    Pool& pool = it->second;
    resolving_[id] = false;
    if (!addresses.empty()) pool.resolution_succeeded();
    for (const SocketAddress& address : pool.take_addresses(addresses, now)) {
        SourceConfig config = pool.config().source;
        config.address = address;
        pool.add_member(spawn(config, id, random, out), address);
    }
    if (pool.wants_members()) out.push_back(SetPoolTimer{id, pool.next_resolve_delay()});
    return out;
}

ClientActions ClientCore::handle_resolve_failed(PoolId id) {
    ClientActions out;
    auto it = pools_.find(id);
    if (it == pools_.end()) return out;
    resolving_[id] = false;
    out.push_back(SetPoolTimer{id, it->second.next_resolve_delay()});
    return out;
}

ClientActions ClientCore::handle_pool_timer(PoolId id, NtpInstant now, RandomSource& random) {
    ClientActions out;
    auto it = pools_.find(id);
    if (it == pools_.end() || !it->second.wants_members()) return out;
    replenish(id, now, random, out);
    return out;
}

ClientActions ClientCore::handle_clock_step(NtpInstant now) {
    ClientActions out;
    for (auto& [id, entry] : sources_) {
        if (entry.refclock) {
            entry.refclock->reset_after_clock_step();
        } else {
            entry.source->reset_after_clock_step();
        }
    }
    (void)now;
    return out;
}

void ClientCore::discipline(const SelectionOutcome& outcome, NtpInstant now, ClientActions& out) {
    const SystemState& state = system_.state();
    if (!outcome.majority || !state.system_peer) return;
    const SourceId peer = *state.system_peer;
    auto pit = sources_.find(peer);
    if (pit == sources_.end()) return;
    const SelectableSource& ps = pit->second.selectable();
    // One update per new sample of any survivor (a system peer that falls
    // silent, rate-limited or dying, must not leave the clock free-running
    // while others answer).
    bool news = false;
    for (const SourceVerdict& v : outcome.verdicts) {
        if (v.status != SourceStatus::Survivor && v.status != SourceStatus::SystemPeer) continue;
        auto it = sources_.find(v.id);
        if (it != sources_.end() &&
            it->second.selectable().samples_accepted() != samples_used_[v.id])
            news = true;
    }
    if (!news) return;

    const RawPoint here = ledger_.at(now);
    const std::optional<SourceEstimate> pe = ps.estimator().estimate_at(here.x);
    if (!pe) return;
    double offset_weight = 0, weighted_offset = 0;
    double frequency_weight = 0, weighted_frequency = 0;
    double residual_sd = pe->residual_sd;
    for (const SourceVerdict& v : outcome.verdicts) {
        if (v.status != SourceStatus::Survivor && v.status != SourceStatus::SystemPeer) continue;
        auto it = sources_.find(v.id);
        if (it == sources_.end()) continue;
        const SelectableSource& src = it->second.selectable();
        samples_used_[v.id] = src.samples_accepted();
        const std::optional<SourceEstimate> e = src.estimator().estimate_at(here.x);
        if (!e) continue;
        // Combine only what agrees with the system peer: within what path
        // asymmetry can explain (half of each minimum delay) and three
        // standard deviations. Selection's intervals are wide (root
        // distance); a server 50 ms off may still overlap, and weighted by
        // its own small variance it would pull the clock.
        const double allowed = (src.estimator().min_delay() + ps.estimator().min_delay()) / 2 +
                               3 * std::hypot(e->offset_sd, pe->offset_sd);
        if (v.id != peer && std::fabs(e->offset - pe->offset) > allowed) continue;
        const double w = 1.0 / std::max(e->offset_sd * e->offset_sd, 1e-18);
        offset_weight += w;
        weighted_offset += w * e->offset;
        if (e->has_frequency) {
            const double fw = 1.0 / std::max(e->frequency_sd * e->frequency_sd, 1e-24);
            frequency_weight += fw;
            weighted_frequency += fw * e->frequency;
        }
    }
    if (offset_weight <= 0) return;
    ClockEstimate estimate;
    estimate.offset = weighted_offset / offset_weight;
    estimate.offset_sd = std::sqrt(1.0 / offset_weight);
    estimate.has_frequency = frequency_weight > 0;
    if (estimate.has_frequency) {
        estimate.frequency = weighted_frequency / frequency_weight;
        estimate.frequency_sd = std::sqrt(1.0 / frequency_weight);
    }
    // The correction is spread over the system peer's poll interval (more
    // sources update more often, but each update's estimate is no better
    // for it: slewing faster would only put their noise into the frequency).
    estimate.interval = log2_to_seconds(ps.poll());

    const bool was_limited = status_.frequency_limited;
    const ClockCommand cmd = controller_.update(now, estimate, ledger_);
    if (cmd.action == ClockAction::Panic) {
        DisciplineClock dc;
        dc.command = cmd;
        dc.update = ClockUpdate{cmd.offset, residual_sd, now, peer};
        out.push_back(dc);
        return;
    }
    last_clock_update_ = now;
    if (cmd.action == ClockAction::Step) {
        for (auto& [id, entry] : sources_) entry.selectable().apply_step(cmd.step);
    }

    // What we serve: built from the estimate, recomputed at every update.
    const SourceSnapshot snap = ps.snapshot();
    const double root_delay = snap.root_delay + ps.estimator().min_delay();
    const double root_dispersion = snap.root_dispersion + estimate.offset_sd + residual_sd;
    system_.record_update(now, cmd.offset, residual_sd, root_delay, root_dispersion,
                          estimate.frequency_sd + kClockErrorRate);

    status_.updates = controller_.updates();
    status_.frequency_limited = controller_.frequency_limited();
    status_.frequency = cmd.base_frequency;
    status_.frequency_sd = estimate.frequency_sd;
    status_.offset_sd = estimate.offset_sd;
    status_.residual_sd = residual_sd;
    status_.slewing = controller_.slewing();
    status_.stalled = false;
    status_.last_update_age = 0;

    DisciplineClock dc;
    dc.command = cmd;
    dc.update = ClockUpdate{cmd.offset, residual_sd, now, peer};
    dc.max_error = root_delay / 2 + root_dispersion;
    dc.est_error = estimate.offset_sd;
    out.push_back(dc);
    if (status_.frequency_limited != was_limited) {
        char text[200];
        std::snprintf(text, sizeof text,
                      status_.frequency_limited
                          ? "frequency pinned: the clock needs %+.3f ppm, beyond the %.0f ppm "
                            "the kernel accepts; offsets will grow"
                          : "frequency back within limits (%+.3f ppm of %.0f ppm)",
                      cmd.base_frequency * 1e6, controller_.config().max_frequency * 1e6);
        out.push_back(DisciplineFault{status_.frequency_limited, text});
    }
}

ClientActions ClientCore::handle_slew_end(NtpInstant now) {
    ClientActions out;
    if (const std::optional<double> f = controller_.slew_ended(now, ledger_)) {
        out.push_back(SetClockFrequency{*f});
    }
    status_.slewing = controller_.slewing();
    return out;
}

void ClientCore::handle_command_failed(NtpInstant now, double frequency) {
    ledger_.set_frequency(now, frequency);
}

ClientActions ClientCore::check_health(NtpInstant now) {
    ClientActions out;
    if (!last_clock_update_) return out;
    status_.last_update_age = to_seconds(now - *last_clock_update_);
    double longest_poll = 0;
    unsigned reachable = 0;
    for (const auto& [id, entry] : sources_) {
        const SelectableSource& src = entry.selectable();
        if (src.reach() == 0 || src.demobilized()) continue;
        ++reachable;
        longest_poll = std::max(longest_poll, log2_to_seconds(src.poll()));
    }
    if (reachable == 0 || status_.last_update_age <= kStallPolls * longest_poll) return out;
    // Sources answer, yet nothing has reached the clock for kStallPolls of
    // their polls: whatever they were judged on (frequency pinned, distance
    // grown from the clock's own drift, a falseticker majority) is stale.
    // Start over as at start-up, stepping allowed again.
    status_.stalled = true;
    ++status_.restarts;
    char text[240];
    std::snprintf(text, sizeof text,
                  "no clock update for %.0f s although %u source(s) answer: estimates restarted "
                  "(restart %u), stepping allowed for the next updates",
                  status_.last_update_age, reachable, status_.restarts);
    for (auto& [id, entry] : sources_) entry.selectable().restart_estimates();
    samples_used_.clear();
    controller_.restart();
    last_clock_update_ = now;
    out.push_back(DisciplineFault{true, text});
    return out;
}

std::vector<SourceInfo> ClientCore::sources() const {
    std::vector<SourceInfo> out;
    for (const auto& [id, entry] : sources_) {
        if (entry.source) out.push_back(SourceInfo{entry.source.get(), entry.pool, entry.verdict});
    }
    return out;
}

std::vector<RefclockInfo> ClientCore::refclocks() const {
    std::vector<RefclockInfo> out;
    for (const auto& [id, entry] : sources_) {
        if (entry.refclock) out.push_back(RefclockInfo{entry.refclock.get(), entry.verdict});
    }
    return out;
}

const NtpSource* ClientCore::source(SourceId id) const {
    auto it = sources_.find(id);
    return it == sources_.end() ? nullptr : it->second.source.get();
}

const RefclockSource* ClientCore::refclock(SourceId id) const {
    auto it = sources_.find(id);
    return it == sources_.end() ? nullptr : it->second.refclock.get();
}

const SelectableSource* ClientCore::selectable(SourceId id) const {
    auto it = sources_.find(id);
    return it == sources_.end() ? nullptr : &it->second.selectable();
}

const Pool* ClientCore::pool(PoolId id) const {
    auto it = pools_.find(id);
    return it == pools_.end() ? nullptr : &it->second;
}

}  // namespace nanotime::ntp
