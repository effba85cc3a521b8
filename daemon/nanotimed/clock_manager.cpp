// clock_manager.cpp - carrying out clock commands, CLOCK_REALTIME steering,
// the kernel's leap state and the drift file (see clock_manager.hpp).
#include "nanotimed/clock_manager.hpp"

#include <sys/timex.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "io/utc_text.hpp"
#include "util/atomic_file.hpp"

namespace nanotime::daemon {

using namespace std::chrono_literals;

ClockManager::ClockManager(const config::ClockConfig& config, io::EventLoop& loop,
                           io::ClockBackend& clock, const Timescale& timescale,
                           io::RateLimitedLog& log)
    : config_(config),
      loop_(loop),
      clock_(clock),
      timescale_(timescale),
      log_(log),
      discipline_(clock),
      leap_(config.leap_seconds_file) {}

void ClockManager::start(const ntp::SystemState& sys) {
    load_drift();
    if (config_.adjust) {
        if (const std::optional<double> f = discipline_.take_control()) {
            clock_frequency_ = *f;
        } else {
            log_.warn(io::LogClass::ClockAdjust,
                      "cannot read " + clock_.name() + " to turn its kernel PLL off");
        }
    }
    schedule_drift_save();
    observed_ = sys;
    leap_.load(timescale_.now(), log_);
    update_leap();
    if (config_.backend == config::ClockBackendKind::Nanoclock && config_.steer_realtime &&
        config_.adjust) {
        realtime_ = std::make_unique<io::SystemClock>();
        ntp::PiServoConfig servo;
        servo.step_threshold_s = config_.step_threshold;
        steering_ = std::make_unique<io::RealtimeSteering>(clock_, *realtime_, servo);
        log_.info(io::LogClass::ClockAdjust, "steering CLOCK_REALTIME to " + clock_.name());
        steer_realtime();
    }
}

bool ClockManager::note_pps_owner(bool pps) {
    if (pps != pps_owns_clock_) {
        log_.info(io::LogClass::ClockAdjust,
                  pps ? "PPS disciplines " + clock_.name() + ": NTP corrections paused"
                      : "PPS no longer disciplines " + clock_.name() + ": NTP corrections resume");
        pps_owns_clock_ = pps;
    }
    return pps;
}

CorrectionPlan plan_correction(const ntp::ClockCommand& command, bool pps_owns_clock) {
    CorrectionPlan plan;
    if (command.action == ntp::ClockAction::Panic) return plan;
    if (pps_owns_clock && command.action != ntp::ClockAction::Step) {
        plan.refuse = true;
        return plan;
    }
    plan.apply = true;
    plan.reset_steering = command.action == ntp::ClockAction::Step;
    if (command.slew_seconds > 0)
        plan.slew_end = std::chrono::nanoseconds(static_cast<int64_t>(command.end_after * 1e9));
    return plan;
}

ClockActions ClockManager::correct(const ntp::DisciplineClock& dc, const ntp::SystemState& sys) {
    const ntp::ClockCommand& cmd = dc.command;
    ClockActions out;
    char text[200];
    // A nanoclock whose hardpps disciplines time or frequency belongs to the
    // PPS signal: NTP numbers the seconds and watches, but does not steer.
    timex tx{};
    const bool pps = cmd.action != ntp::ClockAction::Panic &&
                     config_.backend == config::ClockBackendKind::Nanoclock &&
                     note_pps_owner(clock_.read(tx) >= 0 && (tx.status & STA_PPSSIGNAL) &&
                                    (tx.status & (STA_PPSTIME | STA_PPSFREQ)));
    const CorrectionPlan plan = plan_correction(cmd, pps);
    if (plan.refuse) {
        out.push_back(CommandRefused{io::total_frequency_ppm(tx) * 1e-6});
        return out;
    }
    if (!plan.apply) {
        std::snprintf(text, sizeof text,
                      "offset %+.3f s exceeds the panic threshold (%.0f s): not adjusting; "
                      "nanotimectl makestep overrides",
                      cmd.offset, config_.panic_threshold);
        log_.error(io::LogClass::ClockAdjust, text);
        return out;
    }
    out.push_back(CancelSlewEnd{});
    if (discipline_.apply(cmd, dc.max_error, dc.est_error) < 0) {
        log_.error(io::LogClass::ClockAdjust, std::string("clock adjustment failed: ") +
                                                  std::strerror(-discipline_.last_error()));
        out.push_back(CommandRefused{discipline_.frequency().value_or(0.0)});
        return out;
    }
    follow_frequency(cmd.frequency);
    if (cmd.action == ntp::ClockAction::Step) {
        ++clock_steps_;
        clock_stepped_s_ += std::abs(cmd.step);
        std::snprintf(text, sizeof text, "clock stepped by %+.9f s", cmd.step);
        log_.warn(io::LogClass::ClockAdjust, text);
    } else {
        std::snprintf(
            text, sizeof text,
            "offset %+.9f s (sd %.9f s): frequency %+.6f ppm, slewing %+.6f ppm for %.1f s",
            cmd.offset, dc.est_error, cmd.base_frequency * 1e6,
            (cmd.frequency - cmd.base_frequency) * 1e6, cmd.slew_seconds);
        log_.debug(io::LogClass::ClockAdjust, text);
    }
    if (plan.reset_steering && steering_) steering_->reset();
    if (plan.slew_end) out.push_back(ArmSlewEnd{*plan.slew_end});
    observed_ = sys;
    update_leap();
    return out;
}

ClockActions ClockManager::set_frequency(double frequency) {
    ClockActions out;
    if (!pps_owns_clock_ && discipline_.set_frequency(frequency) < 0) {
        log_.error(io::LogClass::ClockAdjust, std::string("cannot set the frequency: ") +
                                                  std::strerror(-discipline_.last_error()));
        out.push_back(CommandRefused{discipline_.frequency().value_or(0.0)});
    }
    return out;
}

void ClockManager::observe(const ntp::SystemState& sys, std::optional<double> base_frequency) {
    observed_ = sys;
    observed_frequency_ = base_frequency;
}

void ClockManager::reload_leap_file() {
    leap_.load(timescale_.now(), log_);  // a bad file keeps the table we have
    update_leap();
}

std::optional<std::string> ClockManager::install_leap_file(const std::string& text,
                                                           std::string& error) {
    auto done = leap_.install(text, timescale_.now(), log_, error);
    if (done) update_leap();
    return done;
}

void ClockManager::update_leap() {
    carry_out(leap_.update(timescale_.now(), observed_));
}

void ClockManager::carry_out(const LeapPlan& plan) {
    if (const std::optional<ArmLeap>& arm = plan.arm) {
        int r = clock_.set_leap(arm->direction);
        if (r >= 0 && realtime_) r = realtime_->set_leap(arm->direction);
        if (r < 0) {
            log_.error(io::LogClass::ClockAdjust,
                       std::string("cannot set the kernel leap state: ") + std::strerror(-r));
        } else {
            const std::string day = io::utc_text(arm->midnight - ntp::kNtpToUnixSeconds);
            log_.warn(io::LogClass::ClockAdjust,
                      arm->direction == 0 ? std::string("kernel leap second disarmed")
                      : arm->direction > 0
                          ? "leap second insertion armed for the end of the day before " + day +
                                " (" + arm->why + ")"
                          : "leap second deletion armed for the end of the day before " + day +
                                " (" + arm->why + ")");
            leap_.leap_armed(arm->direction);
        }
    }
    if (plan.tai) {
        const int tai = *plan.tai;
        int r = clock_.set_tai(tai);
        if (r >= 0 && realtime_) r = realtime_->set_tai(tai);
        if (r < 0) {
            log_.error(io::LogClass::ClockAdjust,
                       std::string("cannot set the kernel TAI offset: ") + std::strerror(-r));
        } else {
            log_.info(io::LogClass::ClockAdjust,
                      "kernel TAI offset set to " + std::to_string(tai) + " s");
        }
        leap_.tai_offered(tai);  // failed or not: do not retry every update
    }
    loop_.cancel_timer(leap_timer_);
    leap_timer_ = loop_.add_timer_after(plan.recheck_after, [this] {
        leap_timer_ = 0;
        update_leap();
    });
}

void ClockManager::steer_realtime() {
    const double mono =
        std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const io::RealtimeSteering::Update u = steering_->update(mono);
    if (u.waiting) {
        if (!steering_waiting_)
            log_.info(io::LogClass::ClockAdjust,
                      "CLOCK_REALTIME steering waits: " + clock_.name() + " is unsynchronised");
    } else if (u.error != 0) {
        log_.error(io::LogClass::ClockAdjust,
                   std::string("steering CLOCK_REALTIME failed: ") + std::strerror(-u.error));
    } else if (u.measured && u.servo.state == ntp::ServoState::Jump) {
        ++realtime_steps_;  // kernel stamps taken before it are on the old timescale
        char text[120];
        std::snprintf(text, sizeof text, "CLOCK_REALTIME stepped by %+.9f s to %s", u.servo.step_s,
                      clock_.name().c_str());
        log_.warn(io::LogClass::ClockAdjust, text);
    } else if (u.measured && u.servo.state != steering_state_) {
        char text[120];
        std::snprintf(text, sizeof text, "CLOCK_REALTIME steering %s (offset %+.9f s)",
                      u.servo.state == ntp::ServoState::Locked ? "locked" : "unlocked",
                      static_cast<double>(u.offset_ns) * 1e-9);
        log_.info(io::LogClass::ClockAdjust, text);
    }
    if (u.measured) steering_state_ = u.servo.state;
    if (u.waiting) steering_state_ = ntp::ServoState::Unlocked;
    steering_waiting_ = u.waiting;
    loop_.add_timer_after(1s, [this] { steer_realtime(); });
}

void ClockManager::follow_frequency(double frequency) {
    const double delta = frequency - clock_frequency_;
    clock_frequency_ = frequency;
    if (!steering_ || delta == 0) return;
    // The nanokernel takes a new frequency at its next second (plus the
    // tick's latency): CLOCK_REALTIME takes the same change then.
    const timespec t = clock_.now();
    const auto until = std::chrono::nanoseconds(1'000'000'000 - t.tv_nsec + 200'000);
    loop_.add_timer_after(until, [this, delta] {
        if (!steering_) return;
        if (int r = steering_->feed_forward(delta * 1e9); r < 0) {
            log_.error(
                io::LogClass::ClockAdjust,
                std::string("CLOCK_REALTIME cannot follow the frequency: ") + std::strerror(-r));
        }
    });
}

void ClockManager::load_drift() {
    if (config_.drift_file.empty()) return;
    std::ifstream in(config_.drift_file);
    double ppm = 0;
    if (!(in >> ppm) || !std::isfinite(ppm) || std::fabs(ppm) > 500) return;
    if (clock_.set_frequency(ppm) < 0) {
        log_.warn(io::LogClass::ClockAdjust, "cannot set the frequency from the drift file");
        return;
    }
    log_.info(io::LogClass::ClockAdjust,
              "frequency " + std::to_string(ppm) + " ppm from " + config_.drift_file);
}

void ClockManager::save_drift() {
    timex tx{};
    if (config_.drift_file.empty() || clock_.read(tx) < 0) return;
    if (!observed_.synchronized()) return;  // only a frequency worth keeping
    char buf[64];
    // The base frequency, not a slew in progress.
    const double ppm =
        observed_frequency_ ? *observed_frequency_ * 1e6 : io::total_frequency_ppm(tx);
    const int n = std::snprintf(buf, sizeof buf, "%.6f\n", ppm);
    if (auto failed = util::replace_file(config_.drift_file,
                                         std::string_view(buf, static_cast<size_t>(n)), 0644)) {
        log_.warn(io::LogClass::ClockAdjust, "drift not saved: " + *failed);
    }
}

void ClockManager::schedule_drift_save() {
    loop_.add_timer_after(3600s, [this] {
        save_drift();
        schedule_drift_save();
    });
}

}  // namespace nanotime::daemon
