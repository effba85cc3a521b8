// scenario.hpp - a simulation scenario, read from a TOML file.
//
// The format is documented key by key in README.md; scenarios/*.toml are the
// examples. Unknown keys and wrong types are errors (with the line number).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "ntp_source.hpp"
#include "oscillator.hpp"
#include "pps_source.hpp"

namespace nksim {

struct ScenarioError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Thresholds a run must meet (nksim --check); unset = not checked.
struct Expect {
    std::optional<double> converge_s;    // time to converge, s
    std::optional<double> rms_ns;        // steady-state RMS time error, ns
    std::optional<double> max_ns;        // steady-state max |time error|, ns
    std::optional<double> p99_ns;        // steady-state 99th percentile |time error|, ns
    std::optional<double> recovery_s;    // recovery after the temperature step, s
    std::optional<double> freq_rms_ppb;  // steady-state RMS frequency error, ppb
    std::optional<double> runtime_s;     // wall-clock time of the run, s
};

struct Scenario {
    std::string name;
    std::string description;
    std::string file;
    uint64_t seed = 1;
    double duration_s = 3600.0;
    std::string variant = "default";  // default variant (CLI may override)

    // [clock]
    int64_t epoch_s = 1700000000;    // true UTC seconds at simulated time 0
    double initial_offset_ns = 0.0;  // clock - true at the start, ns (|.| < 0.5 s)
    double initial_freq_ppm = 0.0;   // ADJ_FREQUENCY given at the start, ppm (0: none)
    double tick_hz = 10.0;           // periodic tick rate (hrtimer), Hz
    double tick_latency_ns = 0.0;    // mean exponential latency of every tick, ns

    // [daemon]
    int status = 0;             // STA_* set with ADJ_STATUS at the start
    std::optional<int> ppsmax;  // MOD_PPSMAX (log2 s)

    OscillatorParams osc;  // [oscillator]
    PpsParams pps;         // [pps]
    NtpParams ntp;         // [ntp]

    // [analysis]
    double sample_hz = 1.0;       // error samples per second of true time
    double steady_start_s = 0.0;  // start of the steady-state window, s
    double converge_threshold_ns = 10000.0;
    double recovery_from_s = -1.0;  // recovery counted from here (< 0: the temperature
                                    // step, if any)

    Expect expect;                                 // [expect]
    std::map<std::string, Expect> expect_variant;  // [expect.<variant>]

    // Expectations for @variant: [expect] overridden key by key by [expect.<variant>].
    Expect expect_for(const std::string& variant) const;
};

// Parse a scenario file; throws ScenarioError with "file:line: reason".
Scenario load_scenario(const std::string& path);
// Parse scenario text (for tests); @name is used in error messages.
Scenario parse_scenario(const std::string& text, const std::string& name);

// STA_* names ("PLL", "PPSFREQ", ...) to bits; throws ScenarioError.
int status_from_name(const std::string& name);

}  // namespace nksim
