// test_member_state.cpp - the state a member reports: each view as the
// control socket answers it, and the summary whose changes are events.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "broker/member_state.hpp"
#include "ctl/handler.hpp"

namespace nanotime::broker {
namespace {

using nlohmann::json;

ctl::DaemonSnapshot sample() {
    ctl::DaemonSnapshot snap;
    snap.status.version = "9.9";
    snap.status.synchronized = true;
    snap.status.leap = "insert";
    snap.tracking.reference_name = "b.example";
    ctl::SourceInfo a;
    a.name = "a.example";
    a.state = "candidate";
    ctl::SourceInfo b;
    b.name = "b.example";
    b.state = "selected";
    snap.sources = {a, b};
    return snap;
}

TEST(MemberState, EveryViewIsTheControlSocketsData) {
    const ctl::DaemonSnapshot snap = sample();
    const json data = state_data(snap);
    for (std::string_view v : kStateViews) {
        const std::string view(v);
        const json direct =
            json::parse(ctl::handle_request(json{{"command", view}}.dump(), {}, snap).response);
        ASSERT_TRUE(direct["ok"].get<bool>()) << view;
        ASSERT_TRUE(data.contains(view)) << view;
        EXPECT_EQ(data[view], direct["data"]) << view;
    }
    EXPECT_EQ(data.size(), std::size(kStateViews));
    EXPECT_EQ(data["status"]["version"], "9.9");
    // The broker's own parser takes it (every view an object).
    State st;
    st.seq = 1;
    st.data = data;
    const Parsed<DaemonMessage> back = parse_daemon_message(serialise(DaemonMessage{st}));
    EXPECT_TRUE(back.message) << back.error;
}

TEST(MemberState, ObservationNamesTheSelectedSource) {
    const Observation o = observation_of(sample(), 3);
    EXPECT_EQ(o.selected_source, "b.example");
    EXPECT_TRUE(o.synchronized);
    EXPECT_EQ(o.leap, "insert");
    EXPECT_EQ(o.clock_steps, 3u);
    ctl::DaemonSnapshot none = sample();
    none.sources[1].state = "unreachable";
    EXPECT_EQ(observation_of(none, 0).selected_source, "");
}

}  // namespace
}  // namespace nanotime::broker
