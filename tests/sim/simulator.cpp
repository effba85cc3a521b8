#include "simulator.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "ntp_source.hpp"
#include "oscillator.hpp"
#include "pps_source.hpp"
#include "rng.hpp"

namespace nksim {

namespace {

constexpr double kNs = 1e9;
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

// Model streams: one independent random stream per model.
enum Stream : uint64_t { kOsc = 1, kPps, kNtp, kTick, kSample };

uint64_t to_pcc(double pcc) {
    return static_cast<uint64_t>(std::llround(pcc));
}

class Run {
  public:
    Run(const Scenario& s, const Variant& v, std::ostream* trace)
        : s_(s),
          trace_(trace),
          osc_(s.osc, Rng::stream_seed(s.seed, kOsc)),
          pps_(s.pps, Rng::stream_seed(s.seed, kPps)),
          ntp_(s.ntp, Rng::stream_seed(s.seed, kNtp)),
          tick_rng_(Rng::stream_seed(s.seed, kTick)),
          sample_rng_(Rng::stream_seed(s.seed, kSample)) {
        r_.variant = v;
        const size_t n = static_cast<size_t>(s.duration_s * s.sample_hz) + 1;
        r_.t_s.reserve(n);
        r_.err_ns.reserve(n);
        r_.ferr_ppb.reserve(n);
    }

    SimResult go() {
        const auto wall0 = std::chrono::steady_clock::now();
        start();
        const uint64_t end_pcc = to_pcc(osc_.pcc_at(s_.duration_s * kNs));
        for (;;) {
            // Pick the earliest event; ties in a fixed order.
            uint64_t t = end_pcc;
            int what = 0;
            const uint64_t cand[] = {next_sample_, next_pps_, next_ntp_, next_boundary_,
                                     next_periodic_};
            for (int i = 0; i < 5; ++i) {
                if (cand[i] < t) {
                    t = cand[i];
                    what = i + 1;
                }
            }
            if (what == 0) break;
            switch (what) {
                case 1:
                    sample(t);
                    break;
                case 2:
                    pps_edge(t);
                    break;
                case 3:
                    ntp_update(t);
                    break;
                case 4:
                    tick(t, true);
                    break;
                case 5:
                    tick(t, false);
                    break;
            }
        }
        nks_timex tx{};
        r_.final_state = nks_adjtime(c_.get(), &tx, last_pcc_);
        r_.final_tx = tx;
        r_.pps = pps_.counters();
        r_.ntp_lost = ntp_.lost();
        r_.runtime_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
        return std::move(r_);
    }

  private:
    void start() {
        const uint64_t pcc0 = to_pcc(osc_.pcc_at(0.0));
        const auto off = static_cast<int64_t>(std::llround(s_.initial_offset_ns));
        int64_t sec = s_.epoch_s + off / 1000000000LL;
        int64_t nsec = off % 1000000000LL;
        if (nsec < 0) {
            nsec += 1000000000LL;
            --sec;
        }
        nks_init(c_.get(), r_.variant.options, pcc0, sec, static_cast<int32_t>(nsec));
        last_pcc_ = pcc0;
        last_time_ = read_ns(pcc0);

        // The daemon's set-up call.
        nks_timex tx{};
        int status = s_.status;
        if (s_.ntp.enabled) status |= STA_PLL | (s_.ntp.mode == NtpMode::Fll ? STA_FLL : 0);
        tx.modes = ADJ_NANO | ADJ_STATUS;
        tx.status = status;
        if (s_.ntp.enabled) {
            tx.modes |= ADJ_TIMECONST;
            tx.constant = s_.ntp.time_constant;
        }
        if (s_.initial_freq_ppm != 0.0) {
            tx.modes |= ADJ_FREQUENCY;
            tx.freq = std::llround(s_.initial_freq_ppm * 65536.0);
        }
        if (s_.ppsmax) {
            tx.modes |= NKS_ADJ_PPSMAX;
            tx.shift = *s_.ppsmax;
        }
        core_call(pcc0, [&] { nks_adjtime(c_.get(), &tx, pcc0); });

        period_ns_ = kNs / s_.tick_hz;
        periodic_n_ = 1;
        next_periodic_ = to_pcc(static_cast<double>(pcc0) + period_ns_ + latency());
        // The module's first tick runs at load; its result arms the boundary timer.
        core_call(pcc0, [&] { arm_boundary(nks_tick(c_.get(), pcc0)); });
        ++r_.ticks;

        pps_k_ = 0;
        schedule_pps();
        ntp_n_ = 0;
        schedule_ntp();
        sample_n_ = 0;
        schedule_sample();
    }

    double latency() {
        if (s_.tick_latency_ns <= 0.0) return 0.0;
        return -s_.tick_latency_ns * std::log(1.0 - tick_rng_.uniform());
    }

    int64_t read_ns(uint64_t pcc) {
        int64_t sec;
        int32_t nsec;
        nks_read(c_.get(), pcc, &sec, &nsec);
        ++r_.reads;
        return (sec - s_.epoch_s) * 1000000000LL + nsec;
    }

    // Read (checking monotonicity) before and after a core call at @pcc.
    template <typename F>
    void core_call(uint64_t pcc, F&& f) {
        const int64_t before = checked_read(pcc);
        f();
        const int64_t after = read_ns(pcc);
        const double jump = std::fabs(static_cast<double>(after - before));
        if (jump > 1.0) {
            ++r_.discontinuities;
            if (jump > r_.max_discontinuity_ns) r_.max_discontinuity_ns = jump;
        }
        last_time_ = after;
    }

    int64_t checked_read(uint64_t pcc) {
        const int64_t t = read_ns(pcc);
        if (pcc >= last_pcc_ && t < last_time_) ++r_.nonmonotonic;
        last_pcc_ = pcc;
        last_time_ = t;
        return t;
    }

    void arm_boundary(uint64_t boundary_pcc) {
        next_boundary_ = boundary_pcc > last_pcc_
                             ? to_pcc(static_cast<double>(boundary_pcc) + latency())
                             : kNever;
    }

    void tick(uint64_t pcc, bool boundary) {
        ++r_.ticks;
        if (boundary) ++r_.boundary_ticks;
        uint64_t next = 0;
        core_call(pcc, [&] { next = nks_tick(c_.get(), pcc); });
        arm_boundary(next);
        if (boundary) trace("sec", pcc, 0.0);
        if (!boundary) {
            ++periodic_n_;
            next_periodic_ = to_pcc(static_cast<double>(osc_.params().pcc_start_ns) +
                                    static_cast<double>(periodic_n_) * period_ns_ + latency());
        }
    }

    void schedule_pps() {
        next_pps_ = kNever;
        if (!s_.pps.enabled) return;
        for (;;) {
            ++pps_k_;
            if (static_cast<double>(pps_k_) > s_.duration_s) return;
            if (auto e = pps_.capture(pps_k_)) {
                next_pps_ = to_pcc(osc_.pcc_at(static_cast<double>(pps_k_) * kNs + *e));
                next_pps_err_ = *e;
                return;
            }
        }
    }

    void pps_edge(uint64_t pcc) {
        ++r_.hardpps;
        core_call(pcc, [&] { nks_hardpps(c_.get(), pcc); });
        trace("pps", pcc, next_pps_err_);
        schedule_pps();
    }

    void schedule_ntp() {
        next_ntp_ = kNever;
        if (!s_.ntp.enabled) return;
        const double t = ntp_.update_time_s(ntp_n_);
        if (t <= s_.duration_s) next_ntp_ = to_pcc(osc_.pcc_at(t * kNs));
    }

    void ntp_update(uint64_t pcc) {
        const double truth = osc_.true_at(static_cast<double>(pcc));
        const int64_t clock = checked_read(pcc);
        if (auto m = ntp_.measure(truth - static_cast<double>(clock))) {
            nks_timex tx{};
            tx.modes = ADJ_OFFSET | ADJ_NANO;
            tx.offset = std::llround(*m);
            core_call(pcc, [&] { nks_adjtime(c_.get(), &tx, pcc); });
            trace("ntp", pcc, *m);
            ++r_.ntp_updates;
        }
        ++ntp_n_;
        schedule_ntp();
    }

    void schedule_sample() {
        const double t = (static_cast<double>(sample_n_) + sample_rng_.uniform()) / s_.sample_hz;
        sample_t_ns_ = t * kNs;
        next_sample_ = t <= s_.duration_s ? to_pcc(osc_.pcc_at(sample_t_ns_)) : kNever;
    }

    void sample(uint64_t pcc) {
        // True time at the integer PCC actually read.
        const double truth = osc_.true_at(static_cast<double>(pcc));
        const int64_t clock = checked_read(pcc);
        r_.t_s.push_back(truth / kNs);
        r_.err_ns.push_back(static_cast<double>(clock) - truth);
        const double f = static_cast<double>(nks_time_freq(c_.get())) / 4294967296.0 * 1e-9;
        const double y = osc_.y_at(truth);
        r_.ferr_ppb.push_back(((1.0 + f) * (1.0 + y) - 1.0) * 1e9);
        ++sample_n_;
        schedule_sample();
    }

    // One trace line: event, true time (s), event detail, then the core state.
    void trace(const char* ev, uint64_t pcc, double detail) {
        if (!trace_) return;
        nks_state st;
        nks_get_state(c_.get(), &st);
        const double truth = osc_.true_at(static_cast<double>(pcc));
        const double err = static_cast<double>(read_ns(pcc)) - truth;
        *trace_ << ev << ' ' << truth / kNs << ' ' << detail << ' ' << err << " 0x" << std::hex
                << st.status << std::dec << ' ' << st.pps_shift << ' ' << st.pps_intcnt << ' '
                << static_cast<double>(st.time_offset) / 4294967296.0 << ' '
                << static_cast<double>(st.time_freq) / 4294967296.0 << ' '
                << static_cast<double>(st.pps_freq) / 4294967296.0 << ' ' << st.pps_jitter << ' '
                << st.pps_fcount << ' ' << st.pps_calcnt << ' ' << st.pps_jitcnt << ' '
                << st.pps_errcnt << ' ' << st.pps_stbcnt << ' ' << st.pps_fsecs << ' '
                << st.pps_dropcnt << '\n';
    }

    const Scenario& s_;
    std::ostream* trace_;
    Oscillator osc_;
    PpsSource pps_;
    NtpSource ntp_;
    Rng tick_rng_, sample_rng_;
    SimResult r_;
    ClockPtr c_ = new_clock();

    uint64_t last_pcc_ = 0;
    int64_t last_time_ = 0;
    double period_ns_ = 0.0;
    uint64_t periodic_n_ = 0;
    int64_t pps_k_ = 0;
    uint64_t ntp_n_ = 0;
    uint64_t sample_n_ = 0;
    double sample_t_ns_ = 0.0;
    double next_pps_err_ = 0.0;
    uint64_t next_sample_ = kNever, next_pps_ = kNever, next_ntp_ = kNever, next_boundary_ = kNever,
             next_periodic_ = kNever;
};

}  // namespace

SimResult simulate(const Scenario& s, const Variant& v, std::ostream* trace) {
    return Run(s, v, trace).go();
}

}  // namespace nksim
