// clock_manager.hpp - everything nanotimed does to clocks: carrying out the
// discipline's commands on the disciplined clock (with the PPS and panic
// rules), CLOCK_REALTIME steering, the leap second state in the kernel and
// the drift file.
//
// It sits below the client driver and never calls it: what the driver must
// do after a correction (tell the core its command was not carried out, arm
// or cancel the timer that ends a slew) is returned as ClockActions. The
// leap policy is the LeapManager's; this carries its actions out.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "algorithm/system_state.hpp"
#include "config/config.hpp"
#include "io/clock.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "io/steering.hpp"
#include "nanotimed/leap_manager.hpp"
#include "nanotimed/timescale.hpp"
#include "source/client_core.hpp"

namespace nanotime::daemon {

// The clock did not take the command: the core's ledger must follow the
// clock, which runs at @frequency (fraction, read back).
struct CommandRefused {
    double frequency = 0.0;
};
// A newer command replaces the slew in progress: its end timer is void.
struct CancelSlewEnd {};
// Call the core's handle_slew_end() @after from now.
struct ArmSlewEnd {
    std::chrono::nanoseconds after{0};
};
using ClockAction = std::variant<CommandRefused, CancelSlewEnd, ArmSlewEnd>;
using ClockActions = std::vector<ClockAction>;

// What one discipline command does, decided from the command and from
// whether the nanoclock's PPS owns the clock alone (sans-IO, like the PI
// servo's output); ClockManager::correct carries it out.
struct CorrectionPlan {
    bool apply = false;           // carry the command out (ClockDiscipline::apply)
    bool refuse = false;          // the PPS owns the clock: hand it back (CommandRefused)
    bool reset_steering = false;  // a step: CLOCK_REALTIME re-acquires
    std::optional<std::chrono::nanoseconds> slew_end;  // once applied: ArmSlewEnd
};
// Panic: nothing at all. A PPS-owned clock: steps only (NTP numbers the
// seconds). Otherwise the command, and its slew's end.
CorrectionPlan plan_correction(const ntp::ClockCommand& command, bool pps_owns_clock);

class ClockManager {
  public:
    ClockManager(const config::ClockConfig& config, io::EventLoop& loop, io::ClockBackend& clock,
                 const Timescale& timescale, io::RateLimitedLog& log);

    // After privilege drop: frequency from the drift file, the kernel PLL
    // off, the leap file, CLOCK_REALTIME steering, the hourly drift save.
    void start(const ntp::SystemState& sys);

    // Carries out the discipline's @command; @sys is the system state it
    // was made with (the leap state is re-evaluated against it).
    ClockActions correct(const ntp::DisciplineClock& command, const ntp::SystemState& sys);
    // Runs the clock at @frequency (fraction): the end of a slew.
    ClockActions set_frequency(double frequency);
    // The core that started a slew is replaced (reload): the clock runs at
    // its base @frequency (fraction) instead; the new core reads it back.
    void stop_slew(double frequency) { discipline_.set_frequency(frequency); }
    // The frequency the clock runs at (fraction), read back.
    std::optional<double> frequency() { return discipline_.frequency(); }

    // The client driver's view after each update: leap timer re-evaluations
    // use @sys; the drift file keeps @base_frequency (fraction; nothing
    // before the discipline's first update: the clock's own is kept).
    void observe(const ntp::SystemState& sys, std::optional<double> base_frequency);
    // Re-reads the leap file (reload) and re-evaluates the leap state.
    void reload_leap_file();
    // nanotimectl leapfile: see LeapManager::install; the leap plan follows.
    std::optional<std::string> install_leap_file(const std::string& text, std::string& error);
    void save_drift();

    // For the snapshot and the driver (read only).
    const io::ClockBackend& clock() const { return clock_; }
    io::ClockBackend& clock() { return clock_; }
    const LeapManager& leap() const { return leap_; }
    const io::RealtimeSteering* steering() const { return steering_.get(); }
    bool steering_waiting() const { return steering_waiting_; }
    // CLOCK_REALTIME steps made by the steering: kernel stamps taken before
    // one are on the old timescale.
    uint64_t realtime_steps() const { return realtime_steps_; }
    // Steps of the disciplined clock carried out, and their absolute sizes
    // added up (s): the exporter's nanotime_system_steps_total and
    // nanotime_system_accumulated_steps_seconds.
    uint64_t clock_steps() const { return clock_steps_; }
    double clock_stepped_s() const { return clock_stepped_s_; }

  private:
    void load_drift();
    void schedule_drift_save();
    void update_leap();
    void carry_out(const LeapPlan& plan);
    void steer_realtime();
    // CLOCK_REALTIME takes the nanoclock's frequency changes as they happen
    // (feed-forward to the steering, at the nanoclock's next second, when the
    // nanokernel applies them).
    void follow_frequency(double frequency);
    // Whether the nanoclock's hardpps disciplines its time or frequency
    // (@pps), logged when it changes; returns @pps.
    bool note_pps_owner(bool pps);

    const config::ClockConfig& config_;
    io::EventLoop& loop_;
    io::ClockBackend& clock_;
    const Timescale& timescale_;
    io::RateLimitedLog& log_;
    io::ClockDiscipline discipline_;
    LeapManager leap_;
    uint64_t leap_timer_ = 0;
    ntp::SystemState observed_;                 // as of the driver's last update
    std::optional<double> observed_frequency_;  // fraction, the discipline's base
    double clock_frequency_ = 0.0;  // fraction, the disciplined clock's last set frequency
    bool pps_owns_clock_ = false;   // the nanoclock's hardpps disciplines it: NTP only watches
    std::unique_ptr<io::ClockBackend> realtime_;  // steer_realtime: CLOCK_REALTIME
    std::unique_ptr<io::RealtimeSteering> steering_;
    ntp::ServoState steering_state_ = ntp::ServoState::Unlocked;
    bool steering_waiting_ = false;  // the nanoclock is unsynchronised
    uint64_t realtime_steps_ = 0;
    uint64_t clock_steps_ = 0;
    double clock_stepped_s_ = 0;  // s
};

}  // namespace nanotime::daemon
