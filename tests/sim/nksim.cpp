// nksim - the nanokernel discipline simulator (see README.md).
//
//   nksim scenarios/A.toml                       text report, default variant
//   nksim -V default -V linux A.toml B.toml      side-by-side table
//   nksim --json --plot A.png --check A.toml     JSON, a plot, exit 1 on a failed check
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "report.hpp"
#include "scenario.hpp"
#include "simulator.hpp"

using namespace nksim;

int main(int argc, char** argv) {
    CLI::App app{"nksim: simulate libnanokernel against oscillator, PPS and NTP models"};
    std::vector<std::string> files;
    std::vector<std::string> variant_names;
    bool json = false, table = false, check = false, no_header = false;
    std::string plot, samples, trace, json_out;
    std::optional<uint64_t> seed;
    std::optional<double> duration;
    app.add_option("scenario", files, "scenario TOML files")->required()->check(CLI::ExistingFile);
    app.add_option("-V,--variant", variant_names,
                   "default | freebsd-strict | linux | shiftpll2 | estimator | NK_OPT_* number "
                   "(repeatable; "
                   "default: the "
                   "scenario's)")
        ->allow_extra_args(false);
    app.add_flag("--json", json, "print a JSON array of reports");
    app.add_option("--json-out", json_out, "also write the JSON array of reports to a file");
    app.add_flag("--table", table, "print one table row per run (default with several runs)");
    app.add_flag("--no-header", no_header, "omit the table header");
    app.add_flag("--check", check, "exit 1 unless every [expect] threshold holds");
    app.add_option("--plot", plot, "write a PNG plot (one scenario; all its variants)");
    app.add_option("--samples", samples, "write the samples (t_s err_ns ferr_ppb) as text");
    app.add_option("--trace", trace, "write a per-event trace of the core state (one run)");
    app.add_option("--seed", seed, "override the scenario seed");
    app.add_option("--duration", duration, "override the simulated duration, s");
    CLI11_PARSE(app, argc, argv);

    if (!plot.empty() && files.size() != 1) {
        std::cerr << "nksim: --plot takes a single scenario\n";
        return 2;
    }
    std::unique_ptr<std::ofstream> trace_out;
    if (!trace.empty()) trace_out = std::make_unique<std::ofstream>(trace);
    std::vector<std::unique_ptr<Scenario>> scenarios;
    std::vector<std::unique_ptr<SimResult>> results;
    std::vector<Report> reports;
    try {
        for (const auto& f : files) {
            auto s = std::make_unique<Scenario>(load_scenario(f));
            if (seed) s->seed = *seed;
            if (duration) s->duration_s = *duration;
            std::vector<std::string> names = variant_names;
            if (names.empty()) names.push_back(s->variant);
            for (const auto& n : names) {
                auto v = variant_from_name(n);
                if (!v) {
                    std::cerr << "nksim: unknown variant '" << n << "'\n";
                    return 2;
                }
                results.push_back(std::make_unique<SimResult>(simulate(*s, *v, trace_out.get())));
                reports.push_back(analyse(*s, *results.back()));
            }
            scenarios.push_back(std::move(s));
        }
    } catch (const ScenarioError& e) {
        std::cerr << "nksim: " << e.what() << "\n";
        return 2;
    }

    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : reports) j.push_back(to_json(r));
    if (!json_out.empty()) {
        std::ofstream out(json_out);
        out << j.dump(2) << "\n";
        if (!out) {
            std::cerr << "nksim: cannot write " << json_out << "\n";
            return 2;
        }
    }
    if (json) {
        std::cout << j.dump(2) << "\n";
    } else if (table || reports.size() > 1) {
        if (!no_header) print_table_header(std::cout);
        for (const auto& r : reports) print_table_row(std::cout, r);
    } else {
        for (const auto& r : reports) print_text(std::cout, r);
    }
    if (!samples.empty()) {
        std::ofstream out(samples);
        for (const auto& r : results) write_samples(out, *r);
    }
    if (!plot.empty()) {
        std::vector<const Report*> reps;
        for (const auto& r : reports) reps.push_back(&r);
        if (!plot_png(plot, reps, *scenarios.front())) return 3;
    }
    int rc = 0;
    if (check) {
        for (const auto& r : reports) {
            for (const auto& c : r.checks) {
                if (c.pass) continue;
                std::cerr << "nksim: " << r.scenario << "/" << r.variant.name << ": " << c.name
                          << " = " << c.value << " exceeds " << c.limit << "\n";
                rc = 1;
            }
        }
    }
    return rc;
}
