// client_driver.cpp - the client core driven on the event loop (see
// client_driver.hpp).
#include "nanotimed/client_driver.hpp"

#include <algorithm>
#include <system_error>

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds to_chrono(ntp::Nanoseconds d) {
    return std::chrono::nanoseconds(d.count());
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

}  // namespace

ClientDriver::ClientDriver(const config::Config& config, io::EventLoop& loop,
                           const Timescale& timescale, ClockManager& clock, io::RateLimitedLog& log,
                           ntp::RandomSource& random, std::function<void()> on_update)
    : config_(config),
      loop_(loop),
      timescale_(timescale),
      clock_(clock),
      log_(log),
      random_(random),
      on_update_(std::move(on_update)),
      core_(make_core()) {
    key_exchanges_ = std::make_unique<NtsKeClients>(
        config_.nts, loop_, random_, [this](uint64_t source, NtsKeOutcome outcome) {
            on_key_exchange(static_cast<ntp::SourceId>(source), std::move(outcome));
        });
    resolver_ = std::make_unique<Resolver>(loop_, [this](const Resolution& r) { on_resolved(r); });
}

const ClientDriver::NtsKeHistory* ClientDriver::nts_history(ntp::SourceId id) const {
    auto slot = sources_.find(id);
    return slot != sources_.end() ? &slot->second.nts : nullptr;
}

void ClientDriver::start_key_exchange(const ntp::NtsKeyExchange& ke) {
    auto slot = sources_.find(ke.source);
    if (slot == sources_.end()) return;
    // The certificate must be valid for the name the operator wrote (a
    // pool's members all answer for the pool's name).
    key_exchanges_->start(ke.source, ke.server, slot->second.name, synchronised_once_);
}

void ClientDriver::on_key_exchange(ntp::SourceId id, NtsKeOutcome outcome) {
    auto slot = sources_.find(id);
    const ntp::NtpSource* source = core_->source(id);
    if (slot == sources_.end() || source == nullptr) return;  // removed meanwhile
    if (!outcome.client) {
        NtsKeHistory& h = slot->second.nts;
        ++h.failed;
        h.last_error = outcome.error;
        log_.warn(io::LogClass::SourceState,
                  "source " + slot->second.name + ": NTS-KE failed: " + outcome.error);
        core_->handle_nts_failure(id);
        return;
    }
    // NTP goes to this address unless the KE server named another host.
    const ntp::IpAddress& ke_ip = source->config().address.ip;
    if (outcome.ntp_host == ke_ip.to_string()) {
        use_nts_keys(id, outcome, ke_ip);
    } else if (auto literal = ntp::IpAddress::parse(outcome.ntp_host)) {
        use_nts_keys(id, outcome, *literal);
    } else {
        const uint64_t tag = next_lookup_++;
        Lookup lookup;
        lookup.nts_source = id;
        lookup.nts = std::make_shared<NtsKeOutcome>(std::move(outcome));
        lookups_[tag] = std::move(lookup);
        resolver_->resolve(tag, lookups_[tag].nts->ntp_host);
    }
}

void ClientDriver::use_nts_keys(ntp::SourceId id, NtsKeOutcome& outcome,
                                const ntp::IpAddress& ntp_ip) {
    auto slot = sources_.find(id);
    const ntp::NtpSource* source = core_->source(id);
    if (slot == sources_.end() || source == nullptr) return;
    const uint16_t port = outcome.ntp_port != 0 ? outcome.ntp_port : source->config().address.port;
    const ntp::SocketAddress ntp{ntp_ip, port};
    NtsKeHistory& h = slot->second.nts;
    ++h.succeeded;
    h.last = timescale_.now();
    h.last_error.clear();
    log_.info(io::LogClass::SourceState, "source " + slot->second.name + ": NTS-KE done, " +
                                             std::to_string(outcome.client->jar().size()) +
                                             " cookies, NTP at " + ntp.to_string());
    carry_out(
        core_->handle_nts_keys(id, std::move(*outcome.client), ntp, timescale_.now(), random_));
}

void ClientDriver::start() {
    ntp::ClientActions actions;
    // Refclocks stay as started: their devices are opened once ([[refclock]]
    // changes take a restart), so a reload leaves them alone.
    for (const config::RefclockEntry& r : config_.refclocks) {
        const ntp::SourceId id = core_->add_refclock(r.refclock, actions);
        refclock_ids_.push_back(id);
        sources_[id].name = r.refid;
    }
    for (const config::SourceEntry& entry : config_.sources) add_configured(entry, actions);
    carry_out(std::move(actions));
}

void ClientDriver::reconcile_sources() {
    // Each new entry claims one running twin (equal but for its line), so
    // a repeated entry is matched once per copy.
    std::vector<const config::SourceEntry*> added;
    std::map<ConfiguredId, bool> kept;
    for (const config::SourceEntry& entry : config_.sources) {
        auto twin = std::find_if(configured_.begin(), configured_.end(), [&](const auto& c) {
            return !kept[c.first] && config::same_source(c.second.entry, entry);
        });
        if (twin == configured_.end()) {
            added.push_back(&entry);
            continue;
        }
        kept[twin->first] = true;
        twin->second.entry.line = entry.line;
    }
    ntp::ClientActions actions;
    std::vector<ConfiguredId> gone;
    for (const auto& [id, c] : configured_)
        if (!kept[id]) gone.push_back(id);
    for (ConfiguredId id : gone) remove_configured(id, actions);
    for (const config::SourceEntry* entry : added) add_configured(*entry, actions);
    carry_out(std::move(actions));
    log_.info(io::LogClass::SourceState,
              "sources reconciled: " + std::to_string(configured_.size() - added.size()) +
                  " kept, " + std::to_string(gone.size()) + " removed, " +
                  std::to_string(added.size()) + " added");
}

ntp::SystemState ClientDriver::served_state() const {
    return clock_.leap().served(core_->system_state());
}

unsigned ClientDriver::unresolved_sources() const {
    unsigned n = 0;
    for (const auto& [id, c] : configured_) n += (!c.pool && !c.server) ? 1 : 0;
    return n;
}

std::vector<ntp::SourceId> ClientDriver::named_sources(const std::string& want,
                                                       std::string& error) const {
    std::vector<ntp::SourceId> ids;
    for (const ntp::SourceInfo& info : core_->sources()) {
        const ntp::SourceId id = info.source->id();
        if (want.empty() || source_name(id) == want ||
            info.source->config().address.ip.to_string() == want)
            ids.push_back(id);
    }
    if (ids.empty()) error = want.empty() ? "no NTP sources" : "no NTP source \"" + want + "\"";
    return ids;
}

std::string ClientDriver::source_label(ntp::SourceId id) const {
    const ntp::NtpSource* src = core_->source(id);
    return source_name(id) + " (" + (src ? src->config().address.ip.to_string() : "-") + ")";
}

ClientDriver::SourceCommand ClientDriver::burst(const std::string& want) {
    SourceCommand done;
    const std::vector<ntp::SourceId> ids = named_sources(want, done.error);
    ntp::ClientActions actions;
    for (ntp::SourceId id : ids) {
        core_->burst(id, ntp::kManualBurstRequests, timescale_.now(), random_, actions);
        done.sources.push_back(source_label(id));
    }
    if (ids.empty()) return done;
    carry_out(std::move(actions));
    done.message = std::to_string(ids.size()) + " source(s) sending " +
                   std::to_string(ntp::kManualBurstRequests) + " requests " +
                   std::to_string(static_cast<int>(ntp::to_seconds(ntp::kBurstSpacing))) +
                   " s apart";
    return done;
}

ClientDriver::SourceCommand ClientDriver::set_online(const std::string& want, bool online) {
    SourceCommand done;
    const std::vector<ntp::SourceId> ids = named_sources(want, done.error);
    ntp::ClientActions actions;
    for (ntp::SourceId id : ids) {
        core_->set_online(id, online, timescale_.now(), random_, actions);
        done.sources.push_back(source_label(id));
    }
    if (ids.empty()) return done;
    carry_out(std::move(actions));
    done.message = std::to_string(ids.size()) + " source(s) " + (online ? "online" : "offline");
    return done;
}

ClientDriver::SourceCommand ClientDriver::set_poll_limit(const std::string& want, bool minpoll,
                                                         int value) {
    SourceCommand done;
    if (want.empty()) {
        done.error = std::string(minpoll ? "minpoll" : "maxpoll") + " needs a source";
        return done;
    }
    const std::vector<ntp::SourceId> ids = named_sources(want, done.error);
    // Every source checked before any changes: all or nothing.
    for (ntp::SourceId id : ids) {
        const ntp::NtpSource& src = *core_->source(id);
        if (minpoll ? value > src.maxpoll() : value < src.minpoll()) {
            done.error = minpoll
                             ? "minpoll " + std::to_string(value) + " is above " +
                                   source_label(id) + "'s maxpoll " + std::to_string(src.maxpoll())
                             : "maxpoll " + std::to_string(value) + " is below " +
                                   source_label(id) + "'s minpoll " + std::to_string(src.minpoll());
            return done;
        }
    }
    for (ntp::SourceId id : ids) {
        const ntp::NtpSource& src = *core_->source(id);
        const auto v = static_cast<int8_t>(value);
        core_->set_poll_limits(id, minpoll ? v : src.minpoll(), minpoll ? src.maxpoll() : v);
        done.sources.push_back(source_label(id));
    }
    if (!ids.empty()) {
        done.message = std::string(minpoll ? "minpoll" : "maxpoll") + " " + std::to_string(value) +
                       " on " + std::to_string(ids.size()) + " source(s)";
    }
    return done;
}

ClientDriver::SourceCommand ClientDriver::add_source(const config::SourceEntry& entry) {
    SourceCommand done;
    const char* kind = entry.kind == config::SourceKind::Pool ? "pool " : "server ";
    for (const auto& [id, c] : configured_) {
        if (config::same_source(c.entry, entry)) {
            done.error = kind + entry.address + " with these settings is a source already" +
                         (c.entry.file.empty()
                              ? std::string()
                              : " (" + c.entry.file + ":" + std::to_string(c.entry.line) + ")");
            return done;
        }
    }
    ntp::ClientActions actions;
    add_configured(entry, actions);
    carry_out(std::move(actions));
    done.sources.push_back(entry.address);
    done.message = std::string("added ") + kind + entry.address;
    log_.info(io::LogClass::SourceState, done.message + " at run time");
    return done;
}

std::vector<ClientDriver::ConfiguredId> ClientDriver::configured_ids_named(
    const std::string& want) const {
    std::vector<ConfiguredId> ids;
    for (const auto& [id, c] : configured_) {
        const ntp::NtpSource* server = c.server ? core_->source(*c.server) : nullptr;
        if (c.entry.address == want ||
            (server != nullptr && server->config().address.ip.to_string() == want))
            ids.push_back(id);
    }
    return ids;
}

std::vector<config::SourceEntry> ClientDriver::configured_named(const std::string& want,
                                                                std::string& error) const {
    std::vector<config::SourceEntry> entries;
    for (ConfiguredId id : configured_ids_named(want)) entries.push_back(configured_.at(id).entry);
    if (!entries.empty()) return entries;
    // Named, but not by a [[source]] of its own: say what it is.
    for (const ntp::SourceInfo& info : core_->sources()) {
        const ntp::SourceId id = info.source->id();
        if (source_name(id) != want && info.source->config().address.ip.to_string() != want)
            continue;
        if (std::find(refclock_ids_.begin(), refclock_ids_.end(), id) != refclock_ids_.end()) {
            error = "\"" + want + "\" is a refclock: [[refclock]] entries change with a restart";
        } else {
            error = "\"" + want + "\" is a member of pool " + source_name(id) +
                    ": delete the pool by its name (members are replaced by lookups)";
        }
        return entries;
    }
    error = "no configured source \"" + want + "\"";
    return entries;
}

ClientDriver::SourceCommand ClientDriver::delete_source(const std::string& want) {
    SourceCommand done;
    const std::vector<ConfiguredId> ids = configured_ids_named(want);
    if (ids.empty()) {
        configured_named(want, done.error);
        return done;
    }
    ntp::ClientActions actions;
    for (ConfiguredId id : ids) {
        const config::SourceEntry& entry = configured_.at(id).entry;
        done.sources.push_back((entry.kind == config::SourceKind::Pool ? "pool " : "server ") +
                               entry.address);
        remove_configured(id, actions);
    }
    carry_out(std::move(actions));
    done.message = "deleted " + std::to_string(ids.size()) + " source(s)";
    return done;
}

std::string ClientDriver::source_name(ntp::SourceId id) const {
    auto slot = sources_.find(id);
    return slot != sources_.end() ? slot->second.name : "-";
}

const config::RefclockEntry* ClientDriver::refclock_entry(ntp::SourceId id) const {
    for (size_t i = 0; i < refclock_ids_.size() && i < config_.refclocks.size(); ++i) {
        if (refclock_ids_[i] == id) return &config_.refclocks[i];
    }
    return nullptr;
}

std::unique_ptr<ntp::ClientCore> ClientDriver::make_core() {
    const config::ClockConfig& clock = config_.clock;
    ntp::ControllerConfig cc;
    cc.step_threshold = clock.step_threshold;
    cc.panic_threshold = clock.panic_threshold;
    cc.makestep_threshold = clock.makestep_threshold;
    cc.makestep_limit = clock.makestep_limit;
    cc.max_frequency = clock.max_frequency_ppm * 1e-6;
    cc.max_slew_rate = clock.max_slew_rate_ppm * 1e-6;
    cc.adjust = clock.adjust;
    // The nanokernel takes a new frequency at its next second (FreeBSD's
    // ntp_update_second); Linux's CLOCK_REALTIME at its next tick.
    cc.frequency_at_second = clock.backend == config::ClockBackendKind::Nanoclock;
    // Continue from the frequency the clock runs at (the drift file's, or
    // the kernel's from an earlier run).
    const double frequency = clock_.frequency().value_or(0.0);
    return std::make_unique<ntp::ClientCore>(ntp::SystemConfig{}, cc, frequency);
}

void ClientDriver::refclock_outcome(size_t index, const refclock::ParseOutcome& outcome) {
    if (index >= refclock_ids_.size()) return;
    const ntp::SourceId id = refclock_ids_[index];
    if (const auto* refusal = std::get_if<refclock::Refusal>(&outcome)) {
        log_.debug(io::LogClass::SourceState,
                   "refclock " + source_name(id) + ": reading refused (" +
                       ntp::to_string(refusal->reason) + (refusal->detail.empty() ? "" : ": ") +
                       refusal->detail + ")");
        core_->handle_refclock_reject(id, refusal->reason, refusal->detail);
        return;
    }
    io::PacketTimestamps stamp;
    stamp.software = std::holds_alternative<refclock::Pulse>(outcome)
                         ? std::get<refclock::Pulse>(outcome).system_time
                         : std::get<refclock::Reading>(outcome).system_time;
    const std::optional<ntp::NtpInstant> local = timescale_.kernel_time(stamp);
    if (!local) {
        core_->handle_refclock_reject(id, ntp::RefclockReject::Unavailable,
                                      "the disciplined clock's difference to CLOCK_REALTIME "
                                      "cannot be read");
        return;
    }
    // A PPS edge: the second began at *local on the disciplined clock.
    if (std::holds_alternative<refclock::Pulse>(outcome)) {
        core_->handle_refclock_pulse(id, *local, timescale_.now());
        return;
    }
    const refclock::Reading& r = std::get<refclock::Reading>(outcome);
    // The reference's time is system_time + offset; on the disciplined
    // clock system_time reads as *local.
    const ntp::NtpInstant system_time = ntp::NtpInstant::from_unix(
        ntp::Nanoseconds(int64_t{r.system_time.tv_sec} * 1'000'000'000 + r.system_time.tv_nsec));
    ntp::RefclockSample sample;
    sample.local = *local;
    sample.offset = r.offset - ntp::to_seconds(*local - system_time);
    sample.leap = r.leap;
    core_->handle_refclock_sample(id, sample);
}

void ClientDriver::add_configured(const config::SourceEntry& entry, ntp::ClientActions& actions) {
    const ConfiguredId id = next_configured_++;
    Configured& c = configured_[id];
    c.entry = entry;
    if (entry.kind == config::SourceKind::Pool) {
        ntp::PoolConfig pc;
        pc.hostname = entry.address;
        pc.port = entry.port;
        pc.desired_members = entry.max_sources;
        pc.source = entry.source;
        c.pool = core_->add_pool(pc, actions);
        pools_[*c.pool] = entry.address;
        return;
    }
    // Names are looked up off the loop; the server is added when the answer
    // comes (numeric addresses answer at once).
    resolve_server(id);
}

void ClientDriver::remove_configured(ConfiguredId id, ntp::ClientActions& actions) {
    auto it = configured_.find(id);
    if (it == configured_.end()) return;
    Configured& c = it->second;
    loop_.cancel_timer(c.retry_timer);
    std::erase_if(lookups_, [id](const auto& l) { return l.second.server == id; });
    if (c.pool) {
        core_->remove_pool(*c.pool, timescale_.now(), actions);
        std::erase_if(lookups_, [&c](const auto& l) { return l.second.pool == c.pool; });
        auto timer = pool_timers_.find(*c.pool);
        if (timer != pool_timers_.end()) {
            loop_.cancel_timer(timer->second);
            pool_timers_.erase(timer);
        }
        pools_.erase(*c.pool);
    }
    // A server a kiss-o'-death removed already is no longer in the core.
    if (c.server) core_->remove_source(*c.server, timescale_.now(), actions);
    configured_.erase(it);
}

void ClientDriver::resolve_server(ConfiguredId id) {
    const uint64_t tag = next_lookup_++;
    lookups_[tag] = Lookup{std::nullopt, id, std::nullopt, nullptr};
    resolver_->resolve(tag, configured_.at(id).entry.address);
}

void ClientDriver::add_server(ConfiguredId id, const ntp::IpAddress& address, uint32_t scope_id) {
    Configured& c = configured_.at(id);
    ntp::SourceConfig sc = c.entry.source;
    sc.address = ntp::SocketAddress{address, c.entry.port, scope_id};
    ntp::ClientActions actions;
    c.server = core_->add_server(sc, random_, actions);
    sources_[*c.server].name = c.entry.address;
    carry_out(std::move(actions));
}

void ClientDriver::on_resolved(const Resolution& r) {
    auto it = lookups_.find(r.tag);
    if (it == lookups_.end()) return;  // for sources a reload removed
    const Lookup lookup = it->second;
    lookups_.erase(it);
    if (lookup.nts_source) {
        if (r.addresses.empty()) {
            on_key_exchange(*lookup.nts_source,
                            NtsKeOutcome{std::nullopt,
                                         {},
                                         0,
                                         "cannot resolve the NTP server '" + r.host +
                                             "' it named: " + r.error});
            return;
        }
        use_nts_keys(*lookup.nts_source, *lookup.nts, r.addresses.front());
        return;
    }
    if (lookup.pool) {
        if (pools_.find(*lookup.pool) == pools_.end()) return;
        if (r.addresses.empty()) {
            log_.warn(io::LogClass::SourceState,
                      "cannot resolve pool '" + r.host + "': " + r.error);
            carry_out(core_->handle_resolve_failed(*lookup.pool));
            return;
        }
        carry_out(core_->handle_resolved(*lookup.pool, r.addresses, timescale_.now(), random_));
        return;
    }
    if (!lookup.server || configured_.find(*lookup.server) == configured_.end()) return;
    const ConfiguredId id = *lookup.server;
    if (r.addresses.empty()) {
        log_.warn(io::LogClass::SourceState,
                  "cannot resolve server '" + r.host + "': " + r.error + "; retrying in 64 s");
        configured_.at(id).retry_timer = loop_.add_timer_after(64s, [this, id] {
            configured_.at(id).retry_timer = 0;
            resolve_server(id);
        });
        return;
    }
    add_server(id, r.addresses.front(), r.scope_id);
}

void ClientDriver::resolve_pool(ntp::PoolId pool, const std::string& hostname) {
    const uint64_t tag = next_lookup_++;
    lookups_[tag] = Lookup{pool, std::nullopt, std::nullopt, nullptr};
    resolver_->resolve(tag, hostname);
}

void ClientDriver::carry_out(ntp::ClientActions actions) {
    for (ntp::ClientAction& action : actions) {
        if (auto* send = std::get_if<ntp::SendTo>(&action)) {
            send_request(*send);
        } else if (auto* t = std::get_if<ntp::SetSourceTimer>(&action)) {
            SourceSlot& slot = sources_[t->source];
            loop_.cancel_timer(slot.timer);
            const ntp::SourceId id = t->source;
            slot.timer = loop_.add_timer_after(to_chrono(t->after), [this, id] {
                sources_[id].timer = 0;
                carry_out(core_->handle_source_timer(id, timescale_.now(), random_));
            });
        } else if (auto* rm = std::get_if<ntp::SourceRemoved>(&action)) {
            auto it = sources_.find(rm->source);
            if (it != sources_.end()) {
                log_.warn(io::LogClass::SourceState,
                          "source " + it->second.name + ": " + removal_text(rm->reason));
                loop_.cancel_timer(it->second.timer);
                if (it->second.socket) loop_.close_udp(it->second.socket);
                key_exchanges_->cancel(rm->source);
                sources_.erase(it);
            }
        } else if (auto* res = std::get_if<ntp::Resolve>(&action)) {
            resolve_pool(res->pool, res->hostname);
        } else if (auto* pt = std::get_if<ntp::SetPoolTimer>(&action)) {
            loop_.cancel_timer(pool_timers_[pt->pool]);
            const ntp::PoolId pool = pt->pool;
            pool_timers_[pool] = loop_.add_timer_after(to_chrono(pt->after), [this, pool] {
                pool_timers_.erase(pool);
                carry_out(core_->handle_pool_timer(pool, timescale_.now(), random_));
            });
        } else if (auto* dc = std::get_if<ntp::DisciplineClock>(&action)) {
            carry_out(clock_.correct(*dc, core_->system_state()));
        } else if (auto* f = std::get_if<ntp::SetClockFrequency>(&action)) {
            carry_out(clock_.set_frequency(f->frequency));
        } else if (auto* ke = std::get_if<ntp::NtsKeyExchange>(&action)) {
            start_key_exchange(*ke);
        } else if (auto* fault = std::get_if<ntp::DisciplineFault>(&action)) {
            if (fault->raised) {
                log_.warn(io::LogClass::ClockAdjust, fault->text);
            } else {
                log_.info(io::LogClass::ClockAdjust, fault->text);
            }
        }
    }
    synchronised_once_ = synchronised_once_ || core_->system_state().synchronized();
    const ntp::DisciplineStatus& d = core_->discipline_status();
    clock_.observe(core_->system_state(),
                   d.updates > 0 ? std::optional<double>(d.frequency) : std::nullopt);
    if (on_update_) on_update_();
}

void ClientDriver::carry_out(const ClockActions& actions) {
    for (const ClockAction& action : actions) {
        if (const auto* refused = std::get_if<CommandRefused>(&action)) {
            core_->handle_command_failed(timescale_.now(), refused->frequency);
        } else if (std::holds_alternative<CancelSlewEnd>(action)) {
            loop_.cancel_timer(slew_timer_);
            slew_timer_ = 0;
        } else if (const auto* arm = std::get_if<ArmSlewEnd>(&action)) {
            loop_.cancel_timer(slew_timer_);
            slew_timer_ = loop_.add_timer_after(arm->after, [this] {
                slew_timer_ = 0;
                carry_out(core_->handle_slew_end(timescale_.now()));
            });
        }
    }
}

void ClientDriver::send_request(const ntp::SendTo& send) {
    SourceSlot& slot = sources_[send.source];
    if (slot.name.empty()) {
        auto pool = pools_.end();
        for (const ntp::SourceInfo& info : core_->sources()) {
            if (info.source->id() == send.source && info.pool) pool = pools_.find(*info.pool);
        }
        slot.name = pool != pools_.end() ? pool->second : send.request.destination.ip.to_string();
    }
    // A fresh socket (and so a fresh random source port) for every request
    // (RFC 9109); a reply to an older request has nowhere to land.
    if (slot.socket) loop_.close_udp(slot.socket);
    slot.socket = 0;
    const ntp::SocketAddress to = send.request.destination;
    io::UdpOptions o;
    o.bind = to.ip.family == ntp::AddressFamily::Ipv6 ? ntp::SocketAddress::v6_any(0)
                                                      : ntp::SocketAddress::v4_any(0);
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
    const uint64_t steps_at_send = clock_.realtime_steps();
    try {
        slot.socket = loop_.open_udp(
            o,
            [this, source, request_id, to, steps_at_send](const io::ReceivedDatagram& d) {
                if (d.peer != to) {
                    log_.debug(io::LogClass::BadPacket,
                               "reply from unexpected address " + d.peer.to_string());
                    return;
                }
                // The TX stamp may still sit in the error queue: take it first.
                const uint64_t socket = d.socket;
                loop_.collect_tx_timestamps(socket);
                const auto close_exchange = [this, source, socket] {
                    auto it = sources_.find(source);
                    if (it != sources_.end() && it->second.socket == socket) {
                        loop_.close_udp(socket);
                        it->second.socket = 0;
                    }
                };
                if (clock_.realtime_steps() != steps_at_send) {
                    close_exchange();
                    ++exchanges_across_step_;
                    log_.debug(io::LogClass::ClockAdjust,
                               "reply from " + to.to_string() +
                                   " dropped: CLOCK_REALTIME was stepped during the exchange");
                    return;
                }
                const auto kernel_rx = timescale_.kernel_time(d.rx);
                carry_out(core_->handle_packet(
                    request_id, d.payload, kernel_rx.value_or(timescale_.now()), random_,
                    kernel_rx ? ntp::StampSource::Kernel : ntp::StampSource::Daemon));
                // The exchange is over once the source took a reply for it.
                // A datagram it refused (bogus, unauthentic, an NTS reply
                // replayed) leaves the request waiting: the socket stays open
                // for the real reply until the next request replaces it.
                const ntp::NtpSource* s = core_->source(source);
                if (!s || s->outstanding_request() != request_id) close_exchange();
            },
            [this, request_id, steps_at_send](const io::TxTimestamp& t) {
                if (clock_.realtime_steps() != steps_at_send) return;  // the reply is dropped too
                if (auto sent = timescale_.kernel_time(t.tx))
                    core_->handle_transmit_timestamp(request_id, *sent);
            });
    } catch (const std::system_error& e) {
        log_.warn(io::LogClass::Io, "cannot open a socket for " + to.to_string() + ": " + e.what());
        return;
    }
    loop_.send_udp(slot.socket, to, send.request.packet);
}

}  // namespace nanotime::daemon
