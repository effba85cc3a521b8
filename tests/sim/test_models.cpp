// Unit tests of the models: each produces the statistics it was asked for.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ntp_source.hpp"
#include "oscillator.hpp"
#include "pps_source.hpp"
#include "rng.hpp"
#include "stats.hpp"

using namespace nksim;

TEST(Rng, GaussHasUnitVarianceAndIsDeterministic) {
    Rng a(42), b(42);
    std::vector<double> x(200000);
    for (auto& v : x) {
        v = a.gauss();
        ASSERT_EQ(v, b.gauss());
    }
    const Summary s = summarize(x);
    EXPECT_NEAR(s.mean, 0.0, 0.01);
    EXPECT_NEAR(s.std, 1.0, 0.01);
    // 99th percentile of |N(0,1)| is 2.576.
    EXPECT_NEAR(s.p99_abs, 2.576, 0.05);
}

TEST(Rng, StreamsDiffer) {
    EXPECT_NE(Rng::stream_seed(1, 1), Rng::stream_seed(1, 2));
    EXPECT_NE(Rng::stream_seed(1, 1), Rng::stream_seed(2, 1));
}

TEST(Oscillator, ConstantFrequencyMapsBothWays) {
    OscillatorParams p;
    p.freq_ppm = 50.0;
    p.pcc_start_ns = 1e12;
    Oscillator o(p, 1);
    // 1000 s of true time = 1000 s * (1 + 50e-6) of PCC.
    EXPECT_NEAR(o.pcc_at(1000e9), 1e12 + 1000e9 * (1 + 50e-6), 1e-3);
    EXPECT_NEAR(o.pcc_at(0.0), 1e12, 1e-9);
    for (double t : {0.0, 0.5e9, 1e9, 1234.567e9, 86399.999e9}) {
        EXPECT_NEAR(o.true_at(o.pcc_at(t)), t, 1e-3) << t;
    }
    EXPECT_DOUBLE_EQ(o.y_at(5e9), 50e-6);
}

TEST(Oscillator, InverseIsMonotonicAcrossSegments) {
    OscillatorParams p;
    p.freq_ppm = -20.0;
    p.wander = 1e-9;
    Oscillator o(p, 7);
    double last = -1.0;
    for (double pcc = p.pcc_start_ns; pcc < p.pcc_start_ns + 100e9; pcc += 0.3e9) {
        const double t = o.true_at(pcc);
        EXPECT_GT(t, last);
        EXPECT_NEAR(o.pcc_at(t), pcc, 1e-3);
        last = t;
    }
}

TEST(Oscillator, WanderIsARandomWalkWithTheRequestedStep) {
    OscillatorParams p;
    p.wander = 1e-11;
    Oscillator o(p, 3);
    std::vector<double> steps;
    double prev = o.y_at(0.0);
    for (int k = 1; k < 50000; ++k) {
        const double y = o.y_at(k * 1e9);
        steps.push_back((y - prev) / p.wander);
        prev = y;
    }
    const Summary s = summarize(steps);
    EXPECT_NEAR(s.std, 1.0, 0.02);
    EXPECT_NEAR(s.mean, 0.0, 0.02);
}

TEST(Oscillator, TemperatureStep) {
    OscillatorParams p;
    p.freq_ppm = 10.0;
    p.temp_step_ppm = 1.0;
    p.temp_step_at_s = 100.0;
    Oscillator o(p, 1);
    EXPECT_DOUBLE_EQ(o.y_at(99.5e9), 10e-6);
    EXPECT_NEAR(o.y_at(100.0e9), 11e-6, 1e-18);
    EXPECT_NEAR(o.pcc_at(200e9) - p.pcc_start_ns, 200e9 + 100e9 * 10e-6 + 100e9 * 11e-6, 1e-3);
}

TEST(Oscillator, SameSeedSameWalk) {
    OscillatorParams p;
    p.wander = 1e-9;
    Oscillator a(p, 9), b(p, 9), c(p, 10);
    EXPECT_EQ(a.pcc_at(5000e9), b.pcc_at(5000e9));
    EXPECT_NE(a.pcc_at(5000e9), c.pcc_at(5000e9));
}

TEST(PpsSource, JitterRmsAsRequested) {
    PpsParams p;
    p.enabled = true;
    p.jitter_ns = 1000.0;
    PpsSource s(p, 5);
    std::vector<double> e;
    for (int k = 1; k <= 100000; ++k) e.push_back(*s.capture(k));
    const Summary st = summarize(e);
    EXPECT_NEAR(st.rms, 1000.0, 10.0);
    EXPECT_NEAR(st.mean, 0.0, 10.0);
}

TEST(PpsSource, SpikesDropoutsOutages) {
    PpsParams p;
    p.enabled = true;
    p.jitter_ns = 100.0;
    p.spike_prob = 0.01;
    p.spike_ns = 50000.0;
    p.dropout_prob = 0.02;
    p.outages = {{1000.0, 500.0}};
    PpsSource s(p, 11);
    int big = 0, lost = 0;
    for (int k = 1; k <= 100000; ++k) {
        auto e = s.capture(k);
        if (k >= 1000 && k < 1500) {
            EXPECT_FALSE(e);
        }
        if (!e) {
            ++lost;
            continue;
        }
        if (*e > 25000.0) ++big;
    }
    const auto& n = s.counters();
    EXPECT_EQ(n.outage, 500u);
    EXPECT_EQ(lost, static_cast<int>(n.outage + n.dropouts));
    EXPECT_EQ(big, static_cast<int>(n.spikes));
    EXPECT_NEAR(n.spikes / 99500.0, 0.01 * 0.98, 0.0015);
    EXPECT_NEAR(n.dropouts / 99500.0, 0.02, 0.002);
    EXPECT_EQ(n.edges + n.outage + n.dropouts, 100000u);
}

TEST(PpsSource, LossDoesNotChangeTheJitterOfOtherEdges) {
    PpsParams p;
    p.enabled = true;
    p.jitter_ns = 1000.0;
    PpsParams q = p;
    q.dropout_prob = 0.3;
    PpsSource a(p, 2), b(q, 2);
    for (int k = 1; k <= 1000; ++k) {
        auto x = a.capture(k);
        auto y = b.capture(k);
        if (y) {
            EXPECT_EQ(*x, *y);
        }
    }
}

TEST(NtpSource, NoiseRmsAndSchedule) {
    NtpParams p;
    p.enabled = true;
    p.noise_ns = 100000.0;
    p.poll_s = 64.0;
    p.start_s = 10.0;
    NtpSource s(p, 4);
    EXPECT_DOUBLE_EQ(s.update_time_s(0), 10.0);
    EXPECT_DOUBLE_EQ(s.update_time_s(3), 10.0 + 3 * 64.0);
    std::vector<double> e;
    for (int i = 0; i < 100000; ++i) e.push_back(*s.measure(5000.0) - 5000.0);
    const Summary st = summarize(e);
    EXPECT_NEAR(st.rms, 100000.0, 1000.0);
    EXPECT_EQ(s.updates(), 100000u);
}

TEST(NtpSource, Loss) {
    NtpParams p;
    p.loss_prob = 0.25;
    NtpSource s(p, 4);
    int got = 0;
    for (int i = 0; i < 40000; ++i) got += s.measure(0.0).has_value();
    EXPECT_NEAR(got / 40000.0, 0.75, 0.01);
    EXPECT_EQ(s.lost() + s.updates(), 40000u);
}
