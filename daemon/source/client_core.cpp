#include "source/client_core.hpp"

namespace nanotime::ntp {

ClientCore::ClientCore(SystemConfig system) : system_(std::move(system)) {}

SourceId ClientCore::spawn(const SourceConfig& config, std::optional<PoolId> pool,
                           RandomSource& random, ClientActions& out) {
    const SourceId id = next_source_++;
    Entry entry;
    entry.source = std::make_unique<NtpSource>(id, config);
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
    for (const auto& [id, entry] : sources_) snapshots.push_back(entry.source->snapshot());
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
    if (outcome.clock_update) out.push_back(DisciplineClock{*outcome.clock_update});
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
    apply(id, it->second.source->handle_timer(now, random), now, random, out, select);
    if (select) run_selection(now, random, out);
    return out;
}

ClientActions ClientCore::handle_packet(uint64_t request_id, std::span<const uint8_t> bytes,
                                        NtpInstant receive_time, RandomSource& random) {
    ClientActions out;
    auto request = requests_.find(request_id);
    if (request == requests_.end()) return out;  // late or unknown: nobody is waiting
    const SourceId id = request->second;
    auto it = sources_.find(id);
    if (it == sources_.end()) return out;
    bool select = false;
    apply(id, it->second.source->handle_packet(bytes, request_id, receive_time), receive_time,
          random, out, select);
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
    for (auto& [id, entry] : sources_) entry.source->reset_after_clock_step();
    (void)now;
    return out;
}

std::vector<SourceInfo> ClientCore::sources() const {
    std::vector<SourceInfo> out;
    for (const auto& [id, entry] : sources_) {
        out.push_back(SourceInfo{entry.source.get(), entry.pool, entry.verdict});
    }
    return out;
}

const NtpSource* ClientCore::source(SourceId id) const {
    auto it = sources_.find(id);
    return it == sources_.end() ? nullptr : it->second.source.get();
}

const Pool* ClientCore::pool(PoolId id) const {
    auto it = pools_.find(id);
    return it == pools_.end() ? nullptr : &it->second;
}

}  // namespace nanotime::ntp
