#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace nksim {

namespace {

std::span<const double> window(const std::vector<double>& t, const std::vector<double>& x,
                               double from) {
    size_t i = 0;
    while (i < t.size() && t[i] < from) ++i;
    return std::span<const double>(x).subspan(i);
}

void add_check(Report& rep, const char* name, std::optional<double> limit,
               std::optional<double> value) {
    if (!limit) return;
    Check c{name, value.value_or(-1.0), *limit, value && *value <= *limit};
    rep.pass = rep.pass && c.pass;
    rep.checks.push_back(c);
}

std::string opt_s(const std::optional<double>& v) {
    if (!v) return "never";
    std::ostringstream os;
    os << std::fixed << std::setprecision(0) << *v << " s";
    return os.str();
}

nlohmann::json summary_json(const Summary& s) {
    return {{"n", s.n},     {"mean", s.mean},       {"rms", s.rms},
            {"std", s.std}, {"max_abs", s.max_abs}, {"p99_abs", s.p99_abs}};
}

}  // namespace

Report analyse(const Scenario& s, const SimResult& r) {
    Report rep;
    rep.scenario = s.name;
    rep.variant = r.variant;
    rep.sim = &r;
    rep.steady_start_s = s.steady_start_s;
    rep.steady_end_s = r.t_s.empty() ? 0.0 : r.t_s.back();
    rep.err = summarize(window(r.t_s, r.err_ns, s.steady_start_s));
    rep.ferr = summarize(window(r.t_s, r.ferr_ppb, s.steady_start_s));
    rep.threshold_ns = s.converge_threshold_ns;
    rep.converge_s = converge_time(r.t_s, r.err_ns, s.converge_threshold_ns, 0.0);
    rep.first_below_s = first_below(r.t_s, r.err_ns, s.converge_threshold_ns, 0.0);
    if (s.recovery_from_s >= 0.0) {
        rep.has_step = true;
        rep.recovery_from_s = s.recovery_from_s;
    } else if (s.osc.temp_step_at_s >= 0.0 && s.osc.temp_step_ppm != 0.0) {
        rep.has_step = true;
        rep.recovery_from_s = s.osc.temp_step_at_s;
    }
    if (rep.has_step)
        rep.recovery_s =
            converge_time(r.t_s, r.err_ns, s.converge_threshold_ns, rep.recovery_from_s);

    const Expect e = s.expect_for(r.variant.name);
    add_check(rep, "converge_s", e.converge_s, rep.converge_s);
    // An empty steady window (duration <= steady_start) fails every steady-state check.
    auto steady = [&](double v) { return rep.err.n ? std::optional<double>(v) : std::nullopt; };
    add_check(rep, "rms_ns", e.rms_ns, steady(rep.err.rms));
    add_check(rep, "max_ns", e.max_ns, steady(rep.err.max_abs));
    add_check(rep, "p99_ns", e.p99_ns, steady(rep.err.p99_abs));
    add_check(rep, "recovery_s", e.recovery_s, rep.recovery_s);
    add_check(rep, "freq_rms_ppb", e.freq_rms_ppb, steady(rep.ferr.rms));
    add_check(rep, "runtime_s", e.runtime_s, r.runtime_s);
    // A core that goes backwards or jumps fails every scenario.
    add_check(rep, "nonmonotonic_reads", 0.0, static_cast<double>(r.nonmonotonic));
    return rep;
}

void print_text(std::ostream& os, const Report& rep) {
    const SimResult& r = *rep.sim;
    os << std::fixed;
    os << "scenario " << rep.scenario << "  variant " << rep.variant.name << " (options 0x"
       << std::hex << rep.variant.options << std::dec << ")\n";
    os << std::setprecision(0) << "  steady window      " << rep.steady_start_s << " .. "
       << rep.steady_end_s << " s (" << rep.err.n << " samples)\n";
    os << std::setprecision(1);
    os << "  time error         RMS " << rep.err.rms << " ns  max " << rep.err.max_abs
       << " ns  p99 " << rep.err.p99_abs << " ns  mean " << rep.err.mean << " ns\n";
    os << std::setprecision(3);
    os << "  frequency error    RMS " << rep.ferr.rms << " ppb  max " << rep.ferr.max_abs
       << " ppb  mean " << rep.ferr.mean << " ppb\n";
    os << std::setprecision(0);
    os << "  converged (<" << rep.threshold_ns << " ns)  " << opt_s(rep.converge_s)
       << " (and stayed)  first below " << opt_s(rep.first_below_s) << "\n";
    if (rep.has_step)
        os << "  recovery from " << std::setprecision(0) << rep.recovery_from_s << " s  "
           << opt_s(rep.recovery_s) << "\n";
    os << "  events             ticks " << r.ticks << " (boundary " << r.boundary_ticks
       << ")  hardpps " << r.hardpps << "  ntp " << r.ntp_updates << "  reads " << r.reads << "\n";
    os << "  pps model          edges " << r.pps.edges << "  spikes " << r.pps.spikes
       << "  dropouts " << r.pps.dropouts << "  outage " << r.pps.outage << "\n";
    os << "  core checks        nonmonotonic " << r.nonmonotonic << "  discontinuities "
       << r.discontinuities << " (max " << std::setprecision(0) << r.max_discontinuity_ns
       << " ns)\n";
    const auto& tx = r.final_tx;
    os << "  final core         state " << r.final_state << "  status 0x" << std::hex << tx.status
       << std::dec << "  freq " << std::setprecision(4) << static_cast<double>(tx.freq) / 65536.0
       << " ppm  ppsfreq " << static_cast<double>(tx.ppsfreq) / 65536.0 << " ppm  jitter "
       << tx.jitter << "  shift " << tx.shift << "  calcnt " << tx.calcnt << " jitcnt " << tx.jitcnt
       << " stbcnt " << tx.stbcnt << " errcnt " << tx.errcnt << "\n";
    os << std::setprecision(2) << "  runtime            " << r.runtime_s << " s\n";
    for (const Check& c : rep.checks)
        os << "  check " << std::left << std::setw(19) << c.name << std::right
           << (c.pass ? "pass" : "FAIL") << "  " << std::setprecision(1) << c.value
           << " <= " << c.limit << "\n";
    os << std::defaultfloat;
}

nlohmann::json to_json(const Report& rep) {
    const SimResult& r = *rep.sim;
    nlohmann::json j;
    j["scenario"] = rep.scenario;
    j["variant"] = rep.variant.name;
    j["options"] = rep.variant.options;
    j["steady_window_s"] = {rep.steady_start_s, rep.steady_end_s};
    j["time_error_ns"] = summary_json(rep.err);
    j["freq_error_ppb"] = summary_json(rep.ferr);
    j["converge_threshold_ns"] = rep.threshold_ns;
    j["converge_s"] = rep.converge_s ? nlohmann::json(*rep.converge_s) : nlohmann::json();
    j["first_below_s"] = rep.first_below_s ? nlohmann::json(*rep.first_below_s) : nlohmann::json();
    j["recovery_s"] =
        rep.has_step && rep.recovery_s ? nlohmann::json(*rep.recovery_s) : nlohmann::json();
    j["events"] = {{"ticks", r.ticks},
                   {"boundary_ticks", r.boundary_ticks},
                   {"hardpps", r.hardpps},
                   {"ntp_updates", r.ntp_updates},
                   {"reads", r.reads}};
    j["pps_model"] = {{"edges", r.pps.edges},
                      {"spikes", r.pps.spikes},
                      {"dropouts", r.pps.dropouts},
                      {"outage", r.pps.outage}};
    j["core_checks"] = {{"nonmonotonic_reads", r.nonmonotonic},
                        {"discontinuities", r.discontinuities},
                        {"max_discontinuity_ns", r.max_discontinuity_ns}};
    const auto& tx = r.final_tx;
    j["final"] = {{"state", r.final_state}, {"status", tx.status}, {"freq", tx.freq},
                  {"ppsfreq", tx.ppsfreq},  {"jitter", tx.jitter}, {"shift", tx.shift},
                  {"stabil", tx.stabil},    {"calcnt", tx.calcnt}, {"jitcnt", tx.jitcnt},
                  {"stbcnt", tx.stbcnt},    {"errcnt", tx.errcnt}};
    nlohmann::json checks = nlohmann::json::array();
    for (const Check& c : rep.checks)
        checks.push_back(
            {{"name", c.name}, {"value", c.value}, {"limit", c.limit}, {"pass", c.pass}});
    j["checks"] = checks;
    j["pass"] = rep.pass;
    j["runtime_s"] = r.runtime_s;
    return j;
}

void print_table_header(std::ostream& os) {
    os << std::left << std::setw(14) << "scenario" << std::setw(10) << "variant" << std::right
       << std::setw(11) << "RMS ns" << std::setw(11) << "max ns" << std::setw(11) << "p99 ns"
       << std::setw(11) << "converge" << std::setw(9) << "first" << std::setw(11) << "recovery"
       << std::setw(12) << "ferr ppb" << std::setw(9) << "wall s"
       << "  checks\n";
}

void print_table_row(std::ostream& os, const Report& rep) {
    auto secs = [](const std::optional<double>& v) {
        if (!v) return std::string("never");
        std::ostringstream s;
        s << std::fixed << std::setprecision(0) << *v << "s";
        return s.str();
    };
    os << std::left << std::setw(14) << rep.scenario << std::setw(10) << rep.variant.name
       << std::right << std::fixed << std::setprecision(1) << std::setw(11) << rep.err.rms << ' '
       << std::setw(10) << rep.err.max_abs << ' ' << std::setw(10) << rep.err.p99_abs
       << std::setw(11) << secs(rep.converge_s) << std::setw(9) << secs(rep.first_below_s)
       << std::setw(11) << (rep.has_step ? secs(rep.recovery_s) : std::string("-"))
       << std::setprecision(3) << std::setw(12) << rep.ferr.rms << std::setprecision(2)
       << std::setw(9) << rep.sim->runtime_s << "  "
       << (rep.checks.size() <= 1 ? "-" : (rep.pass ? "pass" : "FAIL")) << "\n"
       << std::defaultfloat;
}

void write_samples(std::ostream& os, const SimResult& r) {
    os << "# t_s err_ns ferr_ppb\n" << std::setprecision(10);
    for (size_t i = 0; i < r.t_s.size(); ++i)
        os << r.t_s[i] << ' ' << r.err_ns[i] << ' ' << r.ferr_ppb[i] << '\n';
}

bool plot_png(const std::string& png, const std::vector<const Report*>& reps, const Scenario& s) {
    FILE* gp = popen("gnuplot", "w");
    if (!gp) {
        std::cerr << "nksim: cannot run gnuplot\n";
        return false;
    }
    std::ostringstream g;
    g << "set terminal pngcairo size 1400,1200 noenhanced\n"
      << "set output '" << png << "'\n"
      << "set multiplot layout 3,1 title 'nksim " << s.name << ": " << s.description << "'\n"
      << "set grid\nset key top right\nset format y '%g'\nset xlabel 'true time (h)'\n";
    // Data blocks, one per run.
    for (size_t k = 0; k < reps.size(); ++k) {
        g << "$d" << k << " << EOD\n" << std::setprecision(8);
        // At most ~kPlotPoints points per series: each bucket of samples is drawn
        // as its largest |time error| (peaks stay visible; gnuplot stays fast).
        const SimResult& r = *reps[k]->sim;
        constexpr size_t kPlotPoints = 12000;
        const size_t step = std::max<size_t>(1, (r.t_s.size() + kPlotPoints - 1) / kPlotPoints);
        for (size_t b = 0; b < r.t_s.size(); b += step) {
            size_t m = b;
            for (size_t i = b; i < std::min(b + step, r.t_s.size()); ++i)
                if (std::fabs(r.err_ns[i]) > std::fabs(r.err_ns[m])) m = i;
            g << r.t_s[m] / 3600.0 << ' ' << r.err_ns[m] / 1000.0 << ' ' << r.ferr_ppb[m] << '\n';
        }
        g << "EOD\n";
    }
    const double thr_us = s.converge_threshold_ns / 1000.0;
    // Zoom on the steady state (+-4 x the worst steady max), full range is in the JSON.
    double ylim = thr_us;
    for (const Report* r : reps) ylim = std::max(ylim, 1.5 * r->err.max_abs / 1000.0);
    g << "set logscale y\nset ylabel '|time error| (us)'\nplot ";
    for (size_t k = 0; k < reps.size(); ++k)
        g << "$d" << k << " using 1:(abs($2)) with lines lw 1 title '" << reps[k]->variant.name
          << "', ";
    g << thr_us << " with lines dt 3 lc rgb 'red' title 'threshold'\nunset logscale y\n";
    g << "set ylabel 'time error (us)'\nset yrange [" << -ylim << ":" << ylim << "]\n"
      << "set arrow from " << s.steady_start_s / 3600.0 << ", graph 0 to "
      << s.steady_start_s / 3600.0 << ", graph 1 nohead dt 2 lc rgb 'gray'\n"
      << "plot ";
    for (size_t k = 0; k < reps.size(); ++k)
        g << "$d" << k << " using 1:2 with lines lw 1 title '" << reps[k]->variant.name << "', ";
    g << thr_us << " with lines dt 3 lc rgb 'red' title 'threshold', " << -thr_us
      << " with lines dt 3 lc rgb 'red' notitle\n";
    // Zoom on the steady state too (the start-up transient is off scale).
    double flim = 1.0;
    for (const Report* r : reps) flim = std::max(flim, 1.5 * r->ferr.max_abs);
    g << "unset arrow\nset yrange [" << -flim << ":" << flim
      << "]\nset ylabel 'frequency error (ppb)'\nplot ";
    for (size_t k = 0; k < reps.size(); ++k)
        g << (k ? ", " : "") << "$d" << k << " using 1:3 with lines title '"
          << reps[k]->variant.name << "'";
    g << "\nunset multiplot\n";
    const std::string script = g.str();
    fwrite(script.data(), 1, script.size(), gp);
    const int rc = pclose(gp);
    if (rc != 0) {
        std::cerr << "nksim: gnuplot failed (" << rc << ")\n";
        return false;
    }
    return true;
}

}  // namespace nksim
