// snapshot_builder.hpp - what nanotimectl shows (status, tracking, sources,
// sourcestats, kernel, pps) and the sd_notify status line, built from the
// daemon's services. It only reads them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "ctl/snapshot.hpp"
#include "io/clock.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "io/stamping_plan.hpp"
#include "nanotimed/client_driver.hpp"
#include "nanotimed/clock_manager.hpp"
#include "nanotimed/kernel_link.hpp"
#include "nanotimed/nts_ke_service.hpp"
#include "nanotimed/nts_key_manager.hpp"
#include "nanotimed/server_front_end.hpp"
#include "nanotimed/timescale.hpp"
#include "source/client_core.hpp"

namespace nanotime::daemon {

inline constexpr const char* kVersion = "0.1.0";

// Everything a snapshot is read from.
struct SnapshotInputs {
    const config::Config& config;
    const io::EventLoop& loop;
    const io::RateLimitedLog& log;
    const Timescale& timescale;
    const ClientDriver& driver;
    const ClockManager& clock;
    io::ClockBackend& kernel_clock;  // read with ntp_adjtime (modes 0): nothing is changed
    const ServerFrontEnd* server;    // null: not serving
    const KernelLink* kernel_link;   // null: not the nanoclock backend
    const NtsKeService* nts_ke;      // null: no NTS-KE server
    const NtsKeyManager* nts_keys;   // null: no NTS master keys on this host
    std::chrono::steady_clock::time_point started;
    const std::vector<io::InterfaceStamping>& interfaces;  // per interface timestamping
};

ctl::DaemonSnapshot build_snapshot(const SnapshotInputs& in);
// One line for sd_notify STATUS= and the log.
std::string status_line(const ntp::ClientCore& core);
// A reference ID as shown: ASCII for stratum 0/1, else an IPv4 address.
std::string reference_id_text(uint32_t id, int stratum);

}  // namespace nanotime::daemon
