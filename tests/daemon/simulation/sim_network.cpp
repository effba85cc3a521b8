#include "simulation/sim_network.hpp"

#include <algorithm>
#include <cmath>

namespace nanotime::ntp::sim {
namespace {

SystemState stratum1_state(const ServerModel& model, NtpInstant now) {
    SystemState s;
    s.leap = LeapIndicator::NoWarning;
    s.stratum = model.stratum;
    s.precision = -20;
    s.root_delay = 0.0;
    s.root_dispersion = 0.0001;
    s.reference_id = reference_id_from_ascii("GPS");
    s.reference_time = now - from_seconds(1);
    s.has_reference_time = true;
    return s;
}

ClockModelConfig clock_config(const SimConfig& c) {
    ClockModelConfig m;
    m.kind = c.clock_model;
    m.start_unix_seconds = c.start_unix_seconds;
    m.offset = c.clock_offset;
    m.initial_frequency = c.initial_frequency;
    m.tick_hz = c.tick_hz;
    m.tick_latency = c.tick_latency;
    m.seed = c.seed;
    return m;
}

std::unique_ptr<NtpServer> server_core(RandomSource& random, bool rate_limited, bool denying) {
    ServerConfig config;
    if (denying) {
        config.access.deny(*Cidr::parse("0.0.0.0/0"));
    } else {
        config.access.allow(*Cidr::parse("0.0.0.0/0"));
        config.access.allow(*Cidr::parse("::/0"));
    }
    if (rate_limited) {
        // No tokens ever (burst 0), a kiss for every refused request.
        RateLimitConfig limit;
        limit.burst = 0;
        limit.kod_interval = Nanoseconds(0);
        config.rate_limit = limit;
    }
    return std::make_unique<NtpServer>(config, random);
}

}  // namespace

Simulation::Simulation(SimConfig config)
    : config_(std::move(config)),
      network_random_(config_.seed * 3 + 1),
      client_random_(config_.seed * 3 + 2),
      server_random_(config_.seed * 3 + 3),
      oscillator_(OscillatorModel{config_.frequency_error, config_.wander, config_.frequency_steps},
                  config_.seed * 3 + 4),
      clock_(make_clock_model(clock_config(config_), oscillator_)),
      client_(SystemConfig{}, config_.controller, clock_->frequency(0.0)),
      start_(NtpInstant::from_unix(Nanoseconds(config_.start_unix_seconds * kNanosPerSecond))) {
    schedule(1.0, [this] { sample_clock(); });
    for (const ServerModel& model : config_.servers) {
        SimServer server{model, server_core(server_random_, false, false), nullptr, nullptr};
        if (std::isfinite(model.kod_rate_at))
            server.limited = server_core(server_random_, true, false);
        if (std::isfinite(model.deny_at)) server.denying = server_core(server_random_, false, true);
        servers_.push_back(std::move(server));
    }
    ClientActions out;
    if (config_.use_pool) {
        client_.add_pool(config_.pool, out);
    } else {
        for (const ServerModel& model : config_.servers) {
            SourceConfig source = config_.source;
            source.address = SocketAddress{model.address, 123};
            client_.add_server(source, client_random_, out);
        }
    }
    apply(std::move(out));
}

void Simulation::sample_clock() {
    const double error = clock_->error(now_);
    // The correction really applied: the clock minus what the oscillator
    // alone would have made of the start offset.
    const double applied = error - config_.clock_offset - oscillator_.drift(now_);
    const CorrectionLedger& ledger = client_.ledger();
    const double booked = ledger.started() ? ledger.at(local_clock(now_)).correction : 0.0;
    if (!ledger.started()) ledger_origin_ = applied;
    clock_samples_.push_back(
        ClockSample{now_, error, clock_->rate_error(now_), booked - (applied - ledger_origin_)});
    schedule(now_ + 1.0, [this] { sample_clock(); });
}

void Simulation::schedule(double at, std::function<void()> event) {
    events_.emplace(at, std::move(event));
}

double Simulation::one_way(const PathModel& path, double base) {
    const double u = network_random_.unit();
    return base - path.jitter_mean * std::log(1.0 - u);
}

Simulation::SimServer* Simulation::server_at(const SocketAddress& address) {
    for (SimServer& s : servers_) {
        if (s.model.address == address.ip) return &s;
    }
    return nullptr;
}

void Simulation::deliver_request(SourceId, SendRequest request) {
    SimServer* server = server_at(request.destination);
    if (server == nullptr) return;
    const PathModel& path = server->model.path;
    if (network_random_.unit() < path.loss) return;
    const double arrival = now_ + one_way(path, path.out_delay);
    const uint64_t request_id = request.request_id;
    const SocketAddress client{IpAddress::v4(192, 0, 2, 200), request.source_port};
    schedule(arrival, [this, server, request_id, client, packet = std::move(request.packet)]() {
        const ServerModel& m = server->model;
        if (now_ >= m.dies_at) return;
        NtpServer& core = now_ >= m.deny_at       ? *server->denying
                          : now_ >= m.kod_rate_at ? *server->limited
                                                  : *server->core;
        const NtpInstant server_clock = start_ + from_seconds(now_ + m.error_at(now_));
        const double processing = 50e-6;
        // A server that lost its reference: the system state of an
        // unsynchronised server (the core then answers leap 3, stratum 16).
        const SystemState state =
            now_ >= m.unsync_at ? SystemState{} : stratum1_state(m, server_clock);
        const ServerResponse response = core.handle(packet, client, server_clock,
                                                    server_clock + from_seconds(processing), state);
        if (response.decision == ServerDecision::Drop) return;
        const PathModel& p = m.path;
        if (network_random_.unit() < p.loss) return;
        const double back = now_ + processing + one_way(p, p.back_delay);
        std::vector<uint8_t> reply(response.bytes().begin(), response.bytes().end());
        schedule(back, [this, request_id, reply = std::move(reply)]() {
            apply(client_.handle_packet(request_id, reply, local_clock(now_), client_random_));
        });
    });
}

void Simulation::apply(ClientActions actions) {
    for (ClientAction& action : actions) {
        if (auto* send = std::get_if<SendTo>(&action)) {
            request_times_.push_back(now_);
            deliver_request(send->source, std::move(send->request));
        } else if (auto* timer = std::get_if<SetSourceTimer>(&action)) {
            const uint64_t generation = ++timer_generation_[timer->source];
            const SourceId id = timer->source;
            schedule(now_ + to_seconds(timer->after), [this, id, generation]() {
                if (timer_generation_[id] != generation) return;
                apply(client_.handle_source_timer(id, local_clock(now_), client_random_));
            });
        } else if (auto* cancel = std::get_if<SourceRemoved>(&action)) {
            ++timer_generation_[cancel->source];
        } else if (auto* resolve = std::get_if<Resolve>(&action)) {
            std::vector<IpAddress> addresses;
            for (const SimServer& s : servers_) addresses.push_back(s.model.address);
            const PoolId pool = resolve->pool;
            schedule(now_ + 0.05, [this, pool, addresses]() {
                apply(client_.handle_resolved(pool, addresses, local_clock(now_), client_random_));
            });
        } else if (auto* pool_timer = std::get_if<SetPoolTimer>(&action)) {
            const uint64_t generation = ++pool_timer_generation_[pool_timer->pool];
            const PoolId id = pool_timer->pool;
            schedule(now_ + to_seconds(pool_timer->after), [this, id, generation]() {
                if (pool_timer_generation_[id] != generation) return;
                apply(client_.handle_pool_timer(id, local_clock(now_), client_random_));
            });
        } else if (auto* discipline = std::get_if<DisciplineClock>(&action)) {
            const ClockCommand& cmd = discipline->command;
            UpdateRecord record;
            record.time = now_;
            record.offset = discipline->update.offset;
            record.expected = -clock_->error(now_);
            record.system_peer = discipline->update.system_peer;
            record.step = cmd.action == ClockAction::Step;
            for (const SourceInfo& info : client_.sources()) {
                record.root_distances.push_back(info.verdict.root_distance);
                switch (info.verdict.status) {
                    case SourceStatus::SystemPeer:
                        record.verdicts += '*';
                        break;
                    case SourceStatus::Survivor:
                        record.verdicts += '+';
                        break;
                    case SourceStatus::Outlier:
                        record.verdicts += '-';
                        break;
                    case SourceStatus::Falseticker:
                        record.verdicts += 'x';
                        break;
                    case SourceStatus::Unfit:
                        record.verdicts += '?';
                        break;
                }
            }
            updates_.push_back(record);
            if (cmd.action == ClockAction::Panic) continue;
            // As ClockManager::correct (CancelSlewEnd): a newer command cancels the slew timer.
            const uint64_t generation = ++slew_generation_;
            if (!clock_->discipline(now_, *discipline)) {
                ++refused_;
                client_.handle_command_failed(local_clock(now_), clock_->frequency(now_));
                continue;
            }
            if (cmd.slew_seconds > 0) {
                schedule(now_ + cmd.end_after, [this, generation]() {
                    if (generation != slew_generation_) return;
                    apply(client_.handle_slew_end(local_clock(now_)));
                });
            }
        } else if (auto* frequency = std::get_if<SetClockFrequency>(&action)) {
            if (!clock_->set_frequency(now_, frequency->frequency)) {
                ++refused_;
                client_.handle_command_failed(local_clock(now_), clock_->frequency(now_));
            }
        }
    }
}

void Simulation::run_until(double time) {
    while (!events_.empty() && events_.begin()->first <= time) {
        auto node = events_.extract(events_.begin());
        now_ = node.key();
        node.mapped()();
    }
    now_ = time;
}

double Simulation::rms_clock_error(double from) const {
    double squares = 0.0;
    size_t n = 0;
    for (const ClockSample& c : clock_samples_) {
        if (c.time < from) continue;
        squares += c.error * c.error;
        ++n;
    }
    return n ? std::sqrt(squares / static_cast<double>(n)) : INFINITY;
}

double Simulation::max_clock_error(double from) const {
    double worst = 0.0;
    for (const ClockSample& c : clock_samples_) {
        if (c.time >= from) worst = std::max(worst, std::fabs(c.error));
    }
    return worst;
}

double Simulation::rms_frequency_error(double from) const {
    double squares = 0.0;
    size_t n = 0;
    for (const ClockSample& c : clock_samples_) {
        if (c.time < from) continue;
        squares += c.frequency_error * c.frequency_error;
        ++n;
    }
    return n ? std::sqrt(squares / static_cast<double>(n)) : INFINITY;
}

size_t Simulation::requests_since(double from) const {
    return static_cast<size_t>(std::count_if(request_times_.begin(), request_times_.end(),
                                             [from](double t) { return t >= from; }));
}

void Simulation::set_server_dies_at(const IpAddress& address, double at) {
    for (SimServer& s : servers_) {
        if (s.model.address == address) s.model.dies_at = at;
    }
}

const ServerModel* Simulation::server_of(SourceId id) const {
    const NtpSource* source = client_.source(id);
    if (source == nullptr) return nullptr;
    for (const SimServer& s : servers_) {
        if (s.model.address == source->config().address.ip) return &s.model;
    }
    return nullptr;
}

double Simulation::rms_error(double from) const {
    double squares = 0.0;
    size_t n = 0;
    for (const UpdateRecord& u : updates_) {
        if (u.time < from) continue;
        squares += (u.offset - u.expected) * (u.offset - u.expected);
        ++n;
    }
    return n ? std::sqrt(squares / static_cast<double>(n)) : INFINITY;
}

double Simulation::max_abs_error(double from) const {
    double worst = 0.0;
    for (const UpdateRecord& u : updates_) {
        if (u.time >= from) worst = std::max(worst, std::fabs(u.offset - u.expected));
    }
    return worst;
}

}  // namespace nanotime::ntp::sim
