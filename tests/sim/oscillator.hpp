// oscillator.hpp - the free-running oscillator behind the PCC.
//
// Maps true time to the process cycle counter (PCC, CLOCK_MONOTONIC_RAW in
// nominal ns) and back. The fractional frequency error y(t) (PCC rate / true
// rate - 1) is piecewise constant over each true second:
//
//   y_k = freq_ppm * 1e-6 + w_k + (k >= step_at ? temp_step_ppm * 1e-6 : 0)
//   w_{k+1} = w_k + wander * N(0, 1)              (random walk, per second)
//
// so pcc(t) is piecewise linear and exactly invertible. Segments are generated
// lazily as the simulation advances; a given seed always gives the same walk.
#pragma once

#include <cstdint>
#include <vector>

#include "rng.hpp"

namespace nksim {

struct OscillatorParams {
    double freq_ppm = 0.0;         // constant frequency error, ppm (+ = PCC runs fast)
    double wander = 0.0;           // random-walk step of y per second (1/s), e.g. 1e-11
    double temp_step_ppm = 0.0;    // frequency step applied at temp_step_at_s, ppm
    double temp_step_at_s = -1.0;  // true time of the step, s (< 0: none)
    double pcc_start_ns = 1e12;    // PCC at true time 0, ns
};

class Oscillator {
  public:
    Oscillator(const OscillatorParams& p, uint64_t seed);

    // PCC (ns, fractional) at true time @t_ns (ns since the start, >= 0).
    double pcc_at(double t_ns);
    // True time (ns since the start) at PCC @pcc_ns (>= pcc_start_ns).
    double true_at(double pcc_ns);
    // Fractional frequency error y at true time @t_ns.
    double y_at(double t_ns);

    const OscillatorParams& params() const { return p_; }

  private:
    void extend_to_second(size_t k);  // make segment k exist
    void extend_to_pcc(double pcc_ns);

    OscillatorParams p_;
    Rng rng_;
    double walk_ = 0.0;
    std::vector<double> pcc_;  // PCC at the start of true second k, relative to pcc_start_ns
    std::vector<double> y_;    // y over true second k
};

}  // namespace nksim
