// member_state.hpp - what a subscribed member tells its broker about
// itself, made from the daemon's control snapshot: the "data" of a state
// message (each view exactly the "data" the control socket answers for it)
// and the summary whose changes are events.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "broker/subscriber_session.hpp"
#include "broker/subscription_messages.hpp"
#include "ctl/snapshot.hpp"

namespace nanotime::broker {

// {"status":{..},"tracking":{..},...}: each of kStateViews
// (subscription_messages.hpp) through the control handler, so the broker
// sees what nanotimectl would.
nlohmann::json state_data(const ctl::DaemonSnapshot& snapshot);

// @clock_steps: the steps the clock manager made since start.
Observation observation_of(const ctl::DaemonSnapshot& snapshot, uint64_t clock_steps);

}  // namespace nanotime::broker
