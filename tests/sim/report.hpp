// report.hpp - figures of merit of a run, as text, JSON, a table row and a plot.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "scenario.hpp"
#include "simulator.hpp"
#include "stats.hpp"

namespace nksim {

struct Check {
    std::string name;  // "rms_ns", ...
    double value = 0.0;
    double limit = 0.0;
    bool pass = false;
};

struct Report {
    std::string scenario;
    Variant variant;
    double steady_start_s = 0.0, steady_end_s = 0.0;
    Summary err;                          // time error over the steady window, ns
    Summary ferr;                         // frequency error over the steady window, ppb
    std::optional<double> converge_s;     // first time |error| < threshold and stays
    std::optional<double> first_below_s;  // first time |error| < threshold
    bool has_step = false;  // recovery is measured (temperature step or recovery_from)
    double recovery_from_s = 0.0;
    std::optional<double> recovery_s;  // like converge_s, counted from recovery_from_s
    double threshold_ns = 0.0;
    std::vector<Check> checks;  // expectations of the scenario for this variant
    bool pass = true;
    const SimResult* sim = nullptr;
};

Report analyse(const Scenario& s, const SimResult& r);

void print_text(std::ostream& os, const Report& rep);
nlohmann::json to_json(const Report& rep);

// One line of the side-by-side table, and its header.
void print_table_header(std::ostream& os);
void print_table_row(std::ostream& os, const Report& rep);

// Write samples as "t_s err_ns ferr_ppb" lines.
void write_samples(std::ostream& os, const SimResult& r);

// Draw error (and frequency error) over time to @png with gnuplot; returns
// false (and says why on stderr) if gnuplot is missing or fails.
bool plot_png(const std::string& png, const std::vector<const Report*>& reps, const Scenario& s);

}  // namespace nksim
