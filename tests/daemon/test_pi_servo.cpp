// PI servo: frequency estimate, first step, convergence, re-acquisition after
// a step of the reference, saturation without wind-up.
#include <gtest/gtest.h>

#include <cmath>

#include "algorithm/pi_servo.hpp"

namespace nanotime::ntp {
namespace {

// A target clock with a frequency error of @error_ppb, corrected by the
// servo's frequency; one sample per second.
struct Loop {
    PiServo servo;
    double error_ppb;
    double offset;  // s, target - reference
    double frequency = 0;
    double t = 0;
    int jumps = 0;

    ServoOutput step() {
        const ServoOutput out = servo.sample(offset, t);
        if (out.state == ServoState::Jump) {
            offset += out.step_s;
            ++jumps;
        }
        if (out.state != ServoState::Unlocked) frequency = out.frequency_ppb;
        t += 1;
        offset += (error_ppb + frequency) * 1e-9;
        return out;
    }
};

TEST(PiServo, StepsOnceThenLocksAndConverges) {
    Loop l{PiServo(PiServoConfig{}), 40'000, 3e-3};  // 40 ppm fast, 3 ms ahead
    EXPECT_EQ(l.step().state, ServoState::Unlocked);
    const ServoOutput second = l.step();
    EXPECT_EQ(second.state, ServoState::Jump);
    EXPECT_NEAR(second.step_s, -(3e-3 + 40e-6), 1e-9);
    EXPECT_NEAR(second.frequency_ppb, -40'000, 1);  // the estimate from two samples
    for (int i = 0; i < 30; ++i) EXPECT_EQ(l.step().state, ServoState::Locked);
    EXPECT_EQ(l.jumps, 1);
    EXPECT_LT(std::fabs(l.offset), 10e-9);
    EXPECT_NEAR(l.frequency, -40'000, 1);
    EXPECT_TRUE(l.servo.locked());
}

TEST(PiServo, SmallFirstOffsetIsSlewedNotStepped) {
    Loop l{PiServo(PiServoConfig{}), -2'500, 5e-6};  // within 20 us
    l.step();
    EXPECT_EQ(l.step().state, ServoState::Locked);
    for (int i = 0; i < 40; ++i) l.step();
    EXPECT_EQ(l.jumps, 0);
    EXPECT_LT(std::fabs(l.offset), 10e-9);
}

TEST(PiServo, LargeOffsetAfterLockUnlocksAndReacquires) {
    Loop l{PiServo(PiServoConfig{}), 1'000, 1e-3};
    for (int i = 0; i < 20; ++i) l.step();
    ASSERT_TRUE(l.servo.locked());
    l.offset += 0.5;  // the reference was stepped back by 0.5 s
    EXPECT_EQ(l.step().state, ServoState::Unlocked);
    EXPECT_EQ(l.step().state, ServoState::Unlocked);  // first sample again
    EXPECT_EQ(l.step().state, ServoState::Jump);
    for (int i = 0; i < 20; ++i) l.step();
    EXPECT_EQ(l.jumps, 2);
    EXPECT_LT(std::fabs(l.offset), 10e-9);
    EXPECT_NEAR(l.frequency, -1'000, 1);
}

TEST(PiServo, SaturatesAtMaxFrequencyWithoutWindUp) {
    PiServoConfig c;
    c.max_frequency_ppb = 100'000;
    c.step_threshold_s = 0;  // never step once locked
    Loop l{PiServo(c), 150'000, 0};
    for (int i = 0; i < 50; ++i) {
        l.step();
        EXPECT_LE(std::fabs(l.frequency), 100'000);
    }
    // The error shrinks to what the servo can correct: back within range,
    // the loop recovers at once (the integral did not wind up).
    l.error_ppb = 50'000;
    l.offset = 0;
    for (int i = 0; i < 40; ++i) l.step();
    EXPECT_LT(std::fabs(l.offset), 100e-9);
    EXPECT_NEAR(l.frequency, -50'000, 5);
}

TEST(PiServo, IgnoresNonFiniteAndOutOfOrderSamples) {
    PiServo s(PiServoConfig{}, 123);
    EXPECT_EQ(s.sample(NAN, 0).state, ServoState::Unlocked);
    EXPECT_EQ(s.frequency_ppb(), 123);
    s.sample(1e-6, 10);
    EXPECT_EQ(s.sample(1e-6, 10).state, ServoState::Unlocked);  // not later: start over
    EXPECT_FALSE(s.locked());
}

}  // namespace
}  // namespace nanotime::ntp
