// ntpsim - runs the client core's whole pipeline (sources, filter,
// selection, estimators, clock controller) in virtual time against simulated
// servers and a simulated oscillator and clock (ideal, or libnanokernel as
// the nanoclock or CLOCK_REALTIME), from a scenario file, and reports how far
// the clock was from true time. See tests/daemon/simulation/README.md.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "simulation/scenario.hpp"

int main(int argc, char** argv) {
    using namespace nanotime::ntp::sim;
    ScenarioOptions options;
    std::string path;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](const char* name) -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "ntpsim: %s needs a value\n", name);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--seed") {
            options.seed = std::stoull(value("--seed"));
        } else if (a == "--seeds") {
            options.seeds = std::stoul(value("--seeds"));
        } else if (a == "--jitter") {
            options.jitter = std::stod(value("--jitter"));
        } else if (a == "--duration") {
            options.duration = std::stod(value("--duration"));
        } else if (a == "--minpoll") {
            options.minpoll = std::stoi(value("--minpoll"));
        } else if (a == "--maxpoll") {
            options.maxpoll = std::stoi(value("--maxpoll"));
        } else if (a == "--model") {
            options.model = value("--model");
        } else if (a == "--samples") {
            options.samples_file = value("--samples");
        } else if (a == "--trace") {
            options.trace_file = value("--trace");
        } else if (a == "--plot") {
            options.plot_file = value("--plot");
        } else if (a == "--check") {
            options.check = true;
        } else if (a == "-h" || a == "--help") {
            std::printf(
                "usage: ntpsim [--seed N] [--seeds N] [--jitter S] [--duration S] [--minpoll N]\n"
                "              [--maxpoll N] [--model ideal|nanoclock|realtime] [--samples FILE]\n"
                "              [--trace FILE] [--plot FILE.png] [--check] SCENARIO.toml\n");
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "ntpsim: unknown option %s\n", a.c_str());
            return 2;
        } else {
            path = a;
        }
    }
    if (path.empty()) {
        std::fprintf(stderr, "ntpsim: a scenario file is needed (--help)\n");
        return 2;
    }
    return run_scenario_file(path, options, stdout);
}
