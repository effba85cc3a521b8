#include "simulation/scenario.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace nanotime::ntp::sim {
namespace {

struct Expect {
    std::optional<double> rms_offset, max_offset, rms_frequency_ppb, converge_1ms, converge_100us,
        min_mean_poll, max_mean_poll;
    std::optional<int64_t> max_steps;
};

struct Scenario {
    SimConfig config;
    bool frequency_at_second_set = false;  // [discipline] frequency_at_second given
    unsigned seeds = 1;
    double duration = 3600;
    double statistics_from = 0;
    Expect expect;
};

double number(const toml::table& t, const char* key, double fallback) {
    if (auto v = t[key].value<double>()) return *v;
    return fallback;
}

std::optional<double> maybe(const toml::table& t, const char* key) {
    return t[key].value<double>();
}

// A misspelt key would leave a scenario testing something else: reject it.
void known_keys(const toml::table& t, const char* table, std::initializer_list<const char*> keys) {
    for (const auto& [key, value] : t) {
        bool known = false;
        for (const char* k : keys) known = known || key.str() == k;
        if (!known) {
            std::string where;
            if (const auto& src = value.source(); src.begin)
                where = " (line " + std::to_string(src.begin.line) + ")";
            throw std::runtime_error("unknown key " + std::string(key.str()) + " in [" + table +
                                     "]" + where);
        }
    }
}

ClockModelKind clock_model(const std::string& name) {
    for (ClockModelKind k :
         {ClockModelKind::Ideal, ClockModelKind::Nanoclock, ClockModelKind::Realtime}) {
        if (name == clock_model_name(k)) return k;
    }
    throw std::runtime_error("[clock] model must be ideal, nanoclock or realtime, not " + name);
}

Scenario load(const std::string& path) {
    const toml::table root = toml::parse_file(path);
    known_keys(root, "top level",
               {"simulation", "clock", "discipline", "source", "server", "expect"});
    Scenario sc;
    SimConfig& c = sc.config;
    if (const toml::table* s = root["simulation"].as_table()) {
        known_keys(*s, "simulation", {"seed", "seeds", "duration", "statistics_from"});
        c.seed = static_cast<uint64_t>(number(*s, "seed", 1));
        sc.seeds = static_cast<unsigned>(number(*s, "seeds", 1));
        sc.duration = number(*s, "duration", 3600);
        sc.statistics_from = number(*s, "statistics_from", 0);
    }
    c.clock_offset = 0.0;
    if (const toml::table* k = root["clock"].as_table()) {
        known_keys(*k, "clock",
                   {"model", "offset", "frequency_ppm", "wander", "initial_ppm", "tick_hz",
                    "tick_latency", "step"});
        c.clock_model = clock_model((*k)["model"].value_or(std::string("ideal")));
        c.clock_offset = number(*k, "offset", 0.0);
        c.frequency_error = number(*k, "frequency_ppm", 0.0) * 1e-6;
        c.wander = number(*k, "wander", 0.0) * 1e-9;
        c.initial_frequency = number(*k, "initial_ppm", 0.0) * 1e-6;
        c.tick_hz = static_cast<unsigned>(number(*k, "tick_hz", 0));
        c.tick_latency = number(*k, "tick_latency", 0.0);
        if (const toml::array* steps = (*k)["step"].as_array()) {
            for (const toml::node& n : *steps) {
                const toml::table* t = n.as_table();
                if (t == nullptr) throw std::runtime_error("[[clock.step]] must be tables");
                known_keys(*t, "clock.step", {"at", "frequency_ppm"});
                c.frequency_steps.push_back(
                    FrequencyStep{number(*t, "at", 0.0), number(*t, "frequency_ppm", 0.0) * 1e-6});
            }
        }
    }
    if (const toml::table* d = root["discipline"].as_table()) {
        known_keys(*d, "discipline",
                   {"step_threshold", "panic_threshold", "makestep_threshold", "makestep_limit",
                    "max_frequency_ppm", "max_slew_rate_ppm", "correction_ratio", "min_slew",
                    "frequency_at_second"});
        ControllerConfig& cc = c.controller;
        cc.step_threshold = number(*d, "step_threshold", cc.step_threshold);
        cc.panic_threshold = number(*d, "panic_threshold", cc.panic_threshold);
        cc.makestep_threshold = number(*d, "makestep_threshold", cc.makestep_threshold);
        cc.makestep_limit = static_cast<int>(number(*d, "makestep_limit", cc.makestep_limit));
        cc.max_frequency = number(*d, "max_frequency_ppm", cc.max_frequency * 1e6) * 1e-6;
        cc.max_slew_rate = number(*d, "max_slew_rate_ppm", cc.max_slew_rate * 1e6) * 1e-6;
        cc.correction_ratio = number(*d, "correction_ratio", cc.correction_ratio);
        cc.min_slew = number(*d, "min_slew", cc.min_slew);
    }
    // As ClientDriver::make_core: a frequency takes effect at the nanoclock's next
    // second, at once on CLOCK_REALTIME (the realtime model, libnanokernel,
    // applies it at the second too: the key lets a scenario tell the core so).
    c.controller.frequency_at_second = c.clock_model == ClockModelKind::Nanoclock;
    if (const toml::table* d = root["discipline"].as_table()) {
        if (auto v = (*d)["frequency_at_second"].value<bool>()) {
            c.controller.frequency_at_second = *v;
            sc.frequency_at_second_set = true;
        }
    }
    c.source.minpoll = 6;
    c.source.maxpoll = 10;
    c.source.iburst = false;
    if (const toml::table* s = root["source"].as_table()) {
        known_keys(*s, "source", {"minpoll", "maxpoll", "iburst"});
        c.source.minpoll = static_cast<int8_t>(number(*s, "minpoll", 6));
        c.source.maxpoll = static_cast<int8_t>(number(*s, "maxpoll", 10));
        c.source.iburst = (*s)["iburst"].value_or(false);
    }
    uint8_t octet = 1;
    if (const toml::array* servers = root["server"].as_array()) {
        for (const toml::node& n : *servers) {
            const toml::table* t = n.as_table();
            if (t == nullptr) continue;
            known_keys(
                *t, "server",
                {"count", "delay", "asymmetry", "jitter", "loss", "error", "drift_ppm", "jump_at",
                 "jump", "dies_at", "unsync_at", "kod_rate_at", "deny_at", "stratum"});
            ServerModel m;
            const double delay = number(*t, "delay", 100e-6);
            m.path.out_delay = delay + number(*t, "asymmetry", 0.0);
            m.path.back_delay = delay;
            m.path.jitter_mean = number(*t, "jitter", 0.0);
            m.path.loss = number(*t, "loss", 0.0);
            m.clock_error = number(*t, "error", 0.0);
            m.drift = number(*t, "drift_ppm", 0.0) * 1e-6;
            m.jump_at = number(*t, "jump_at", INFINITY);
            m.jump = number(*t, "jump", 0.0);
            m.dies_at = number(*t, "dies_at", INFINITY);
            m.unsync_at = number(*t, "unsync_at", INFINITY);
            m.kod_rate_at = number(*t, "kod_rate_at", INFINITY);
            m.deny_at = number(*t, "deny_at", INFINITY);
            m.stratum = static_cast<uint8_t>(number(*t, "stratum", 1));
            const auto count = static_cast<int>(number(*t, "count", 1));
            for (int i = 0; i < count; ++i) {
                m.address = IpAddress::v4(192, 168, 123, octet++);
                c.servers.push_back(m);
            }
        }
    }
    if (c.servers.empty()) throw std::runtime_error("no [[server]]");
    if (const toml::table* e = root["expect"].as_table()) {
        known_keys(*e, "expect",
                   {"rms_offset", "max_offset", "rms_frequency_ppb", "converge_1ms",
                    "converge_100us", "min_mean_poll", "max_mean_poll", "max_steps"});
        sc.expect.rms_offset = maybe(*e, "rms_offset");
        sc.expect.max_offset = maybe(*e, "max_offset");
        sc.expect.rms_frequency_ppb = maybe(*e, "rms_frequency_ppb");
        sc.expect.converge_1ms = maybe(*e, "converge_1ms");
        sc.expect.converge_100us = maybe(*e, "converge_100us");
        sc.expect.min_mean_poll = maybe(*e, "min_mean_poll");
        sc.expect.max_mean_poll = maybe(*e, "max_mean_poll");
        if (auto v = (*e)["max_steps"].value<int64_t>()) sc.expect.max_steps = *v;
    }
    return sc;
}

// From when on the clock stays within @bound (s); -1 if it does not end so.
double converged(const std::vector<ClockSample>& samples, double bound) {
    double since = -1;
    for (const ClockSample& s : samples) {
        if (std::fabs(s.error) > bound) {
            since = -1;
        } else if (since < 0) {
            since = s.time;
        }
    }
    return since;
}

void write_samples(const std::string& file, const std::vector<ClockSample>& samples) {
    FILE* f = std::fopen(file.c_str(), "w");
    if (f == nullptr) return;
    for (const ClockSample& s : samples)
        std::fprintf(f, "%.0f %.9e %.3f %.9e\n", s.time, s.error, s.frequency_error * 1e9,
                     s.ledger_error);
    std::fclose(f);
}

void write_trace(const std::string& file, const std::vector<UpdateRecord>& updates) {
    FILE* f = std::fopen(file.c_str(), "w");
    if (f == nullptr) return;
    std::fprintf(f,
                 "# t_s offset_us true_offset_us system_peer step verdicts "
                 "root_distances_ms...\n");
    for (const UpdateRecord& u : updates) {
        std::fprintf(f, "%.3f %.3f %.3f %u %d %s", u.time, u.offset * 1e6, u.expected * 1e6,
                     static_cast<unsigned>(u.system_peer), u.step ? 1 : 0, u.verdicts.c_str());
        for (double d : u.root_distances) std::fprintf(f, " %.3f", d * 1e3);
        std::fprintf(f, "\n");
    }
    std::fclose(f);
}

// Three panels over hours of true time: |clock error| on a log scale (the
// convergence), the signed error and the frequency error from the
// statistics window on. The commands go to gnuplot through a script file
// (a shell would expand gnuplot's $1 column references).
void plot(const std::string& png, const std::string& data, const std::string& title, double from) {
    const std::string script = png + ".gp";
    FILE* f = std::fopen(script.c_str(), "w");
    if (f == nullptr) return;
    const double h = from / 3600;
    std::fprintf(f,
                 "set terminal png size 1200,1000\n"
                 "set output '%s'\n"
                 "set multiplot layout 3,1 title '%s'\n"
                 "set grid\n"
                 "set logscale y\n"
                 "set ylabel '|clock error| (us)'\n"
                 "plot '%s' using ($1/3600):(abs($2)*1e6 + 1e-3) with lines title '|error|'\n"
                 "unset logscale y\n"
                 "set ylabel 'clock error (us)'\n"
                 "plot '%s' using ($1/3600 >= %.6f ? $1/3600 : 1/0):($2*1e6) with lines "
                 "title 'error from %.2f h'\n"
                 "set ylabel 'frequency error (ppb)'\n"
                 "set xlabel 'hours of true time'\n"
                 "plot '%s' using ($1/3600 >= %.6f ? $1/3600 : 1/0):3 with lines "
                 "title 'frequency error'\n"
                 "unset multiplot\n",
                 png.c_str(), title.c_str(), data.c_str(), data.c_str(), h, h, data.c_str(), h);
    std::fclose(f);
    const std::string cmd = "gnuplot '" + script + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "ntpsim: gnuplot failed\n");
    std::remove(script.c_str());
}

RunResult run_once(const Scenario& sc, uint64_t seed, const ScenarioOptions& o) {
    SimConfig c = sc.config;
    c.seed = seed;
    Simulation sim(c);
    sim.run_until(sc.duration);
    RunResult r;
    const double from = sc.statistics_from;
    r.rms_offset = sim.rms_clock_error(from);
    r.max_offset = sim.max_clock_error(from);
    r.rms_frequency = sim.rms_frequency_error(from);
    r.converge_1ms = converged(sim.clock_samples(), 1e-3);
    r.converge_100us = converged(sim.clock_samples(), 100e-6);
    const double window = sc.duration - from;
    const size_t requests = sim.requests_since(from);
    r.mean_poll = requests > 0 ? window * static_cast<double>(c.servers.size()) /
                                     static_cast<double>(requests)
                               : INFINITY;
    for (const UpdateRecord& u : sim.updates()) r.steps += u.step ? 1 : 0;
    if (!o.trace_file.empty()) write_trace(o.trace_file, sim.updates());
    if (!o.samples_file.empty() || !o.plot_file.empty()) {
        const std::string data = o.samples_file.empty() ? o.plot_file + ".dat" : o.samples_file;
        write_samples(data, sim.clock_samples());
        if (!o.plot_file.empty()) {
            const std::string name = o.scenario_name.empty() ? "ntpsim" : o.scenario_name;
            plot(o.plot_file, data,
                 name + ", " + clock_model_name(c.clock_model) + " clock, seed " +
                     std::to_string(seed),
                 sc.statistics_from);
        }
    }
    return r;
}

struct Summary {
    double mean = 0, sd = 0, worst = 0;
};

Summary summarise(const std::vector<double>& v, bool worst_is_max = true) {
    Summary s;
    for (double x : v) s.mean += x;
    s.mean /= static_cast<double>(v.size());
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / static_cast<double>(v.size() - 1)) : 0;
    s.worst = worst_is_max ? *std::max_element(v.begin(), v.end())
                           : *std::min_element(v.begin(), v.end());
    return s;
}

}  // namespace

int run_scenario_file(const std::string& path, const ScenarioOptions& o, FILE* out) {
    Scenario sc;
    try {
        sc = load(path);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ntpsim: %s: %s\n", path.c_str(), e.what());
        return 2;
    }
    if (o.seed) sc.config.seed = *o.seed;
    if (o.seeds) sc.seeds = *o.seeds;
    if (o.duration) sc.duration = *o.duration;
    if (o.minpoll) sc.config.source.minpoll = static_cast<int8_t>(*o.minpoll);
    if (o.maxpoll) sc.config.source.maxpoll = static_cast<int8_t>(*o.maxpoll);
    if (o.jitter) {
        for (ServerModel& m : sc.config.servers) m.path.jitter_mean = *o.jitter;
    }
    if (o.model) {
        try {
            sc.config.clock_model = clock_model(*o.model);
            if (!sc.frequency_at_second_set)
                sc.config.controller.frequency_at_second =
                    sc.config.clock_model == ClockModelKind::Nanoclock;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ntpsim: %s\n", e.what());
            return 2;
        }
    }
    std::vector<double> rms, max, freq, c1, c100, poll, steps;
    for (unsigned i = 0; i < sc.seeds; ++i) {
        ScenarioOptions first = o;
        first.scenario_name = path.substr(path.find_last_of('/') + 1);
        if (i > 0) first.samples_file.clear(), first.plot_file.clear(), first.trace_file.clear();
        const RunResult r = run_once(sc, sc.config.seed + i, first);
        std::fprintf(out,
                     "seed %llu: RMS %.3f us, max %.3f us, RMS freq %.3f ppb, within 1 ms from "
                     "%.0f s, within 100 us from %.0f s, mean poll %.1f s, %u steps\n",
                     static_cast<unsigned long long>(sc.config.seed + i), r.rms_offset * 1e6,
                     r.max_offset * 1e6, r.rms_frequency * 1e9, r.converge_1ms, r.converge_100us,
                     r.mean_poll, r.steps);
        rms.push_back(r.rms_offset);
        max.push_back(r.max_offset);
        freq.push_back(r.rms_frequency);
        c1.push_back(r.converge_1ms < 0 ? INFINITY : r.converge_1ms);
        c100.push_back(r.converge_100us < 0 ? INFINITY : r.converge_100us);
        poll.push_back(r.mean_poll);
        steps.push_back(r.steps);
    }
    const Summary srms = summarise(rms), smax = summarise(max), sfreq = summarise(freq),
                  sc1 = summarise(c1), sc100 = summarise(c100), spoll = summarise(poll, false),
                  ssteps = summarise(steps);
    std::fprintf(
        out,
        "%s (%s clock): %u run(s): RMS offset %.3f +- %.2g us (worst %.3f), max %.3f us (worst "
        "%.3f), RMS freq %.3f ppb (worst %.3f), within 1 ms from %.0f s, within 100 us from %.0f "
        "s (worst), mean poll %.1f s (lowest %.1f), steps %.0f (most)\n",
        path.c_str(), clock_model_name(sc.config.clock_model), sc.seeds, srms.mean * 1e6,
        srms.sd * 1e6, srms.worst * 1e6, smax.mean * 1e6, smax.worst * 1e6, sfreq.mean * 1e9,
        sfreq.worst * 1e9, sc1.worst, sc100.worst, spoll.mean, spoll.worst, ssteps.worst);
    int failed = 0;
    auto check = [&](const char* what, bool ok, double value, double limit) {
        std::fprintf(out, "  expect %-18s %s (%.6g against %.6g)\n", what, ok ? "ok" : "FAILED",
                     value, limit);
        if (!ok) ++failed;
    };
    const Expect& e = sc.expect;
    if (e.rms_offset) check("rms_offset", srms.worst <= *e.rms_offset, srms.worst, *e.rms_offset);
    if (e.max_offset) check("max_offset", smax.worst <= *e.max_offset, smax.worst, *e.max_offset);
    if (e.rms_frequency_ppb)
        check("rms_frequency_ppb", sfreq.worst * 1e9 <= *e.rms_frequency_ppb, sfreq.worst * 1e9,
              *e.rms_frequency_ppb);
    if (e.converge_1ms)
        check("converge_1ms", sc1.worst <= *e.converge_1ms, sc1.worst, *e.converge_1ms);
    if (e.converge_100us)
        check("converge_100us", sc100.worst <= *e.converge_100us, sc100.worst, *e.converge_100us);
    if (e.min_mean_poll)
        check("min_mean_poll", spoll.worst >= *e.min_mean_poll, spoll.worst, *e.min_mean_poll);
    if (e.max_mean_poll) {
        const double highest = *std::max_element(poll.begin(), poll.end());
        check("max_mean_poll", highest <= *e.max_mean_poll, highest, *e.max_mean_poll);
    }
    if (e.max_steps)
        check("max_steps", ssteps.worst <= static_cast<double>(*e.max_steps), ssteps.worst,
              static_cast<double>(*e.max_steps));
    return o.check && failed > 0 ? 1 : 0;
}

}  // namespace nanotime::ntp::sim
