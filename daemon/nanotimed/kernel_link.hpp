// kernel_link.hpp - nanotimed's use of the nanoclock modules' netlink channel.
//
// With clock.backend = "nanoclock" the daemon keeps one KernelChannel and
//   * follows the clock's EVENT multicasts (PPS gained/lost, leap armed and
//     applied, the clock set by someone else) into the log and the counters;
//   * binds every [[pps]] source to the disciplined nanoclock with the
//     configured STA_PPSTIME / STA_PPSFREQ (at start, on reload, and again
//     when a source module appears later), and keeps the latest EDGE state
//     of each source for `nanotimectl pps`;
//   * runs the PPS bridges: for a [[pps]] entry with a device, reads the
//     Linux /dev/ppsN (RFC 2783) about once a second and injects each new
//     edge into the bridge source (PpsBridgeCore decides what and when).
// The devices are opened in open_devices(), still privileged; everything
// else runs from the event loop. Nothing here is fatal: a missing module or
// device is logged and retried every kRetryPeriod.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "ctl/snapshot.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "kernel/kernel_channel.hpp"
#include "kernel/pps_bridge.hpp"
#include "kernel/pps_device.hpp"

namespace nanotime::daemon {

class KernelLink {
  public:
    static constexpr std::chrono::seconds kRetryPeriod{10};

    // @clock_device: the disciplined /dev/nanoclockN.
    KernelLink(io::EventLoop& loop, io::RateLimitedLog& log, std::string clock_device);
    ~KernelLink();

    // Phase 1 (privileged): the netlink channel, the clock's index and the
    // bridged /dev/ppsN of @pps. Failures are logged, not thrown.
    void open_devices(const std::vector<config::PpsConfig>& pps);
    // Phase 2: watch events, bind the sources, start the bridges.
    void start();
    // SIGHUP: new [[pps]] entries. Devices already open are kept; new ones
    // are opened if the daemon still may.
    void reconfigure(const std::vector<config::PpsConfig>& pps);

    void fill(ctl::KernelInfo& kernel, ctl::PpsInfo& pps) const;
    bool available() const { return channel_ != nullptr; }

  private:
    struct Bridge {
        config::PpsConfig config;
        std::unique_ptr<kernel::PpsDevice> device;
        kernel::PpsBridgeCore core;
        uint64_t timer = 0;
        std::string open_error;  // why device is null
    };
    struct Binding {
        config::PpsConfig config;
        std::optional<uint32_t> source;  // kernel index, once found and bound
        std::string error;               // why it is not bound
    };

    void open_bridge(const config::PpsConfig& p);
    // The kernel index of the PPS source called @name, if the kernel has it.
    std::optional<uint32_t> source_index(const std::string& name) const;
    void bind_all();  // binds whatever is not yet bound
    void refresh_sources();
    void on_events();
    void on_clock_event(const kernel::ClockState& c);
    void fetch_bridge(Bridge& b);
    void schedule_bridge(Bridge& b, int64_t delay_ns);
    void schedule_retry();

    io::EventLoop& loop_;
    io::RateLimitedLog& log_;
    std::string clock_device_;
    std::optional<uint32_t> clock_index_;
    std::unique_ptr<kernel::KernelChannel> channel_;
    std::string channel_error_;                      // why channel_ is null
    std::string sources_error_;                      // why the PPS sources could not be listed
    std::optional<kernel::ClockState> clock_state_;  // latest GET_CLOCK / EVENT
    uint64_t watch_ = 0;
    uint64_t retry_timer_ = 0;
    bool started_ = false;
    std::vector<Binding> bindings_;
    std::map<std::string, std::unique_ptr<Bridge>> bridges_;  // by device path
    std::map<uint32_t, kernel::PpsSourceState> sources_;      // latest state, by index
    std::map<std::string, uint64_t> clock_events_;            // counts by event name
    std::optional<kernel::ClockState> last_clock_event_;
};

}  // namespace nanotime::daemon
