#include "scenario.hpp"

#include <sys/timex.h>
#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace nksim {

namespace {

std::string where(const std::string& file, const toml::source_region& r) {
    return file + ":" + std::to_string(r.begin.line);
}

class Table {
  public:
    Table(const toml::table* t, std::string file, std::string path)
        : t_(t), file_(std::move(file)), path_(std::move(path)) {}

    bool present() const { return t_ != nullptr; }

    double num(const char* key, double def) {
        const toml::node* n = get(key);
        if (!n) return def;
        if (auto v = n->value<double>()) return *v;  // integers convert too
        fail(*n, key, "expected a number");
    }
    std::optional<double> opt_num(const char* key) {
        const toml::node* n = get(key);
        if (!n) return std::nullopt;
        if (auto v = n->value<double>()) return *v;
        fail(*n, key, "expected a number");
    }
    int64_t integer(const char* key, int64_t def) {
        const toml::node* n = get(key);
        if (!n) return def;
        if (auto v = n->as_integer()) return v->get();
        fail(*n, key, "expected an integer");
    }
    bool boolean(const char* key, bool def) {
        const toml::node* n = get(key);
        if (!n) return def;
        if (auto v = n->as_boolean()) return v->get();
        fail(*n, key, "expected true or false");
    }
    std::string str(const char* key, const std::string& def) {
        const toml::node* n = get(key);
        if (!n) return def;
        if (auto v = n->as_string()) return v->get();
        fail(*n, key, "expected a string");
    }
    const toml::array* array(const char* key) {
        const toml::node* n = get(key);
        if (!n) return nullptr;
        if (auto a = n->as_array()) return a;
        fail(*n, key, "expected an array");
    }
    const toml::table* subtable(const char* key) {
        const toml::node* n = get(key);
        if (!n) return nullptr;
        if (auto t = n->as_table()) return t;
        fail(*n, key, "expected a table");
    }
    // Reject keys that were never asked for.
    void finish(const std::set<std::string>& also_allowed = {}) {
        if (!t_) return;
        for (const auto& [k, v] : *t_) {
            const std::string key(k.str());
            if (!used_.count(key) && !also_allowed.count(key))
                throw ScenarioError(where(file_, v.source()) + ": unknown key '" + qualified(key) +
                                    "'");
        }
    }
    [[noreturn]] void fail(const toml::node& n, const std::string& key, const std::string& why) {
        throw ScenarioError(where(file_, n.source()) + ": " + qualified(key) + ": " + why);
    }
    const std::string& file() const { return file_; }

  private:
    const toml::node* get(const char* key) {
        used_.insert(key);
        return t_ ? t_->get(key) : nullptr;
    }
    std::string qualified(const std::string& key) const {
        return path_.empty() ? key : path_ + "." + key;
    }

    const toml::table* t_;
    std::string file_, path_;
    std::set<std::string> used_;
};

Expect parse_expect(Table& t) {
    Expect e;
    e.converge_s = t.opt_num("converge_s");
    e.rms_ns = t.opt_num("rms_ns");
    e.max_ns = t.opt_num("max_ns");
    e.p99_ns = t.opt_num("p99_ns");
    e.recovery_s = t.opt_num("recovery_s");
    e.freq_rms_ppb = t.opt_num("freq_rms_ppb");
    e.runtime_s = t.opt_num("runtime_s");
    return e;
}

template <typename T>
void override_opt(std::optional<T>& dst, const std::optional<T>& src) {
    if (src) dst = src;
}

}  // namespace

int status_from_name(const std::string& name) {
    static const std::pair<const char*, int> kNames[] = {
        {"PLL", STA_PLL},       {"PPSFREQ", STA_PPSFREQ},   {"PPSTIME", STA_PPSTIME},
        {"FLL", STA_FLL},       {"INS", STA_INS},           {"DEL", STA_DEL},
        {"UNSYNC", STA_UNSYNC}, {"FREQHOLD", STA_FREQHOLD},
    };
    for (const auto& [n, bit] : kNames)
        if (name == n || name == std::string("STA_") + n) return bit;
    throw ScenarioError("unknown status bit '" + name + "'");
}

Expect Scenario::expect_for(const std::string& v) const {
    Expect e = expect;
    auto it = expect_variant.find(v);
    if (it != expect_variant.end()) {
        const Expect& o = it->second;
        override_opt(e.converge_s, o.converge_s);
        override_opt(e.rms_ns, o.rms_ns);
        override_opt(e.max_ns, o.max_ns);
        override_opt(e.p99_ns, o.p99_ns);
        override_opt(e.recovery_s, o.recovery_s);
        override_opt(e.freq_rms_ppb, o.freq_rms_ppb);
        override_opt(e.runtime_s, o.runtime_s);
    }
    return e;
}

Scenario parse_scenario(const std::string& text, const std::string& file) {
    toml::table root;
    try {
        root = toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        throw ScenarioError(file + ":" + std::to_string(e.source().begin.line) + ": " +
                            std::string(e.description()));
    }
    Scenario s;
    s.file = file;
    Table top(&root, file, "");
    s.name = top.str("name", file);
    s.description = top.str("description", "");
    s.seed = static_cast<uint64_t>(top.integer("seed", 1));
    s.duration_s = top.num("duration", s.duration_s);
    s.variant = top.str("variant", s.variant);

    Table clock(top.subtable("clock"), file, "clock");
    s.epoch_s = clock.integer("epoch", s.epoch_s);
    s.initial_offset_ns = clock.num("initial_offset_ns", s.initial_offset_ns);
    s.initial_freq_ppm = clock.num("initial_freq_ppm", s.initial_freq_ppm);
    s.tick_hz = clock.num("tick_hz", s.tick_hz);
    s.tick_latency_ns = clock.num("tick_latency_ns", s.tick_latency_ns);
    clock.finish();

    Table daemon(top.subtable("daemon"), file, "daemon");
    if (const toml::array* st = daemon.array("status")) {
        for (const auto& el : *st) {
            auto name = el.value<std::string>();
            if (!name) daemon.fail(el, "status", "expected status bit names");
            try {
                s.status |= status_from_name(*name);
            } catch (const ScenarioError& e) {
                daemon.fail(el, "status", e.what());
            }
        }
    }
    if (auto v = daemon.opt_num("ppsmax")) s.ppsmax = static_cast<int>(*v);
    daemon.finish();

    Table osc(top.subtable("oscillator"), file, "oscillator");
    s.osc.freq_ppm = osc.num("freq_ppm", 0.0);
    s.osc.wander = osc.num("wander", 0.0);
    s.osc.temp_step_ppm = osc.num("temp_step_ppm", 0.0);
    s.osc.temp_step_at_s = osc.num("temp_step_at", -1.0);
    osc.finish();

    Table pps(top.subtable("pps"), file, "pps");
    s.pps.enabled = pps.boolean("enabled", pps.present());
    s.pps.jitter_ns = pps.num("jitter_ns", 0.0);
    s.pps.spike_prob = pps.num("spike_prob", 0.0);
    s.pps.spike_ns = pps.num("spike_ns", 0.0);
    s.pps.bias_ns = pps.num("bias_ns", 0.0);
    s.pps.dropout_prob = pps.num("dropout_prob", 0.0);
    if (const toml::array* outs = pps.array("outages")) {
        for (const auto& el : *outs) {
            const toml::array* pair = el.as_array();
            if (!pair || pair->size() != 2 || !pair->get(0)->value<double>() ||
                !pair->get(1)->value<double>())
                pps.fail(el, "outages", "expected [start_s, length_s] pairs");
            s.pps.outages.emplace_back(*pair->get(0)->value<double>(),
                                       *pair->get(1)->value<double>());
        }
    }
    pps.finish();

    Table ntp(top.subtable("ntp"), file, "ntp");
    s.ntp.enabled = ntp.boolean("enabled", ntp.present());
    s.ntp.poll_s = ntp.num("poll", s.ntp.poll_s);
    s.ntp.start_s = ntp.num("start", s.ntp.start_s);
    s.ntp.noise_ns = ntp.num("noise_ns", 0.0);
    s.ntp.bias_ns = ntp.num("bias_ns", 0.0);
    s.ntp.loss_prob = ntp.num("loss_prob", 0.0);
    s.ntp.time_constant = static_cast<int>(ntp.integer("time_constant", 0));
    const std::string mode = ntp.str("mode", "pll");
    if (mode == "pll")
        s.ntp.mode = NtpMode::Pll;
    else if (mode == "fll")
        s.ntp.mode = NtpMode::Fll;
    else
        throw ScenarioError(file + ": ntp.mode: expected \"pll\" or \"fll\"");
    ntp.finish();

    Table an(top.subtable("analysis"), file, "analysis");
    s.sample_hz = an.num("sample_hz", s.sample_hz);
    s.steady_start_s = an.num("steady_start", s.steady_start_s);
    s.converge_threshold_ns = an.num("converge_threshold_ns", s.converge_threshold_ns);
    s.recovery_from_s = an.num("recovery_from", s.recovery_from_s);
    an.finish();

    if (const toml::table* et = top.subtable("expect")) {
        Table ex(et, file, "expect");
        s.expect = parse_expect(ex);
        std::set<std::string> variants;
        for (const auto& [k, v] : *et) {
            if (const toml::table* sub = v.as_table()) {
                Table vt(sub, file, "expect." + std::string(k.str()));
                s.expect_variant[std::string(k.str())] = parse_expect(vt);
                vt.finish();
                variants.insert(std::string(k.str()));
            }
        }
        ex.finish(variants);
    }
    top.finish();

    if (s.duration_s <= 0) throw ScenarioError(file + ": duration must be > 0");
    if (s.tick_hz <= 0 || s.sample_hz <= 0)
        throw ScenarioError(file + ": clock.tick_hz and analysis.sample_hz must be > 0");
    if (s.initial_offset_ns <= -5e8 || s.initial_offset_ns >= 5e8)
        throw ScenarioError(file + ": clock.initial_offset_ns must be within +-0.5 s");
    if (s.ntp.enabled && s.ntp.poll_s <= 0) throw ScenarioError(file + ": ntp.poll must be > 0");
    return s;
}

Scenario load_scenario(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ScenarioError(path + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_scenario(ss.str(), path);
}

}  // namespace nksim
