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

}  // namespace

Simulation::Simulation(SimConfig config)
    : config_(std::move(config)),
      network_random_(config_.seed * 3 + 1),
      client_random_(config_.seed * 3 + 2),
      server_random_(config_.seed * 3 + 3),
      client_(SystemConfig{}, config_.controller, config_.initial_frequency),
      start_(NtpInstant::from_unix(Nanoseconds(config_.start_unix_seconds * kNanosPerSecond))),
      wander_random_(config_.seed * 3 + 4),
      phase_(config_.clock_offset),
      oscillator_(config_.frequency_error),
      applied_(config_.initial_frequency) {
    schedule(1.0, [this] { sample_clock(); });
    for (const ServerModel& model : config_.servers) {
        ServerConfig server_config;
        server_config.access.allow(*Cidr::parse("0.0.0.0/0"));
        server_config.access.allow(*Cidr::parse("::/0"));
        servers_.push_back(
            SimServer{model, std::make_unique<NtpServer>(server_config, server_random_)});
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

void Simulation::advance_clock(double t) {
    if (t <= clock_time_) return;
    phase_ += (oscillator_ + applied_) * (t - clock_time_);
    if (config_.wander > 0) {
        // Box-Muller from two uniforms: one normal step of the random walk.
        const double u1 = std::max(wander_random_.unit(), 1e-300);
        const double u2 = wander_random_.unit();
        const double normal = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
        oscillator_ += config_.wander * std::sqrt(t - clock_time_) * normal;
    }
    clock_time_ = t;
}

NtpInstant Simulation::local_clock(double true_time) const {
    const double phase = phase_ + (oscillator_ + applied_) * (true_time - clock_time_);
    return start_ + from_seconds(true_time + phase);
}

void Simulation::sample_clock() {
    advance_clock(now_);
    clock_samples_.push_back(ClockSample{now_, phase_, oscillator_ + applied_});
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
        if (now_ >= server->model.dies_at) return;
        const NtpInstant server_clock = start_ + from_seconds(now_ + server->model.clock_error);
        const double processing = 50e-6;
        const ServerResponse response = server->core->handle(
            packet, client, server_clock, server_clock + from_seconds(processing),
            stratum1_state(server->model, server_clock));
        if (response.decision == ServerDecision::Drop) return;
        const PathModel& p = server->model.path;
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
            advance_clock(now_);
            const ClockCommand& cmd = discipline->command;
            UpdateRecord record;
            record.time = now_;
            record.offset = discipline->update.offset;
            record.expected = -phase_;
            record.system_peer = discipline->update.system_peer;
            record.step = cmd.action == ClockAction::Step;
            updates_.push_back(record);
            if (cmd.action == ClockAction::Panic) continue;
            if (cmd.action == ClockAction::Step) phase_ += cmd.step;
            applied_ = cmd.frequency;
            const uint64_t generation = ++slew_generation_;
            if (cmd.slew_seconds > 0) {
                schedule(now_ + cmd.slew_seconds, [this, generation]() {
                    if (generation != slew_generation_) return;
                    apply(client_.handle_slew_end(local_clock(now_)));
                });
            }
        } else if (auto* frequency = std::get_if<SetClockFrequency>(&action)) {
            advance_clock(now_);
            applied_ = frequency->frequency;
        }
    }
}

void Simulation::run_until(double time) {
    while (!events_.empty() && events_.begin()->first <= time) {
        auto node = events_.extract(events_.begin());
        now_ = node.key();
        advance_clock(now_);
        node.mapped()();
    }
    now_ = time;
    advance_clock(now_);
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
