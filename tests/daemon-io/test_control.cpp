// Control protocol: framing, the pure request handler, and the socket server
// on every event-loop backend.
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "ctl/control_server.hpp"
#include "ctl/framing.hpp"
#include "ctl/handler.hpp"
#include "ctl/snapshot_json.hpp"
#include "loop_test_support.hpp"

namespace nanotime::ctl {
namespace {

using nlohmann::json;

DaemonSnapshot sample_snapshot() {
    DaemonSnapshot s;
    s.status.version = "0.1.0";
    s.status.io_backend = "poll";
    s.status.stratum = 3;
    s.status.synchronized = true;
    s.tracking.reference_id = "192.0.2.1";
    s.tracking.system_offset_s = -12.5e-6;
    s.tracking.frequency_ppm = 3.25;
    SourceInfo a;
    a.name = "ntp1.example";
    a.address = "192.0.2.1";
    a.kind = "server";
    a.state = "selected";
    a.reach = 0377;
    s.sources.push_back(a);
    SourceStatsInfo st;
    st.name = "ntp1.example";
    st.samples = 8;
    s.sourcestats.push_back(st);
    s.kernel.clock = "CLOCK_REALTIME";
    s.kernel.status = {"STA_PLL", "STA_NANO"};
    s.pps.available = true;
    s.pps.calibrations = 42;
    return s;
}

json call(const std::string& req, bool privileged = false, Action* action = nullptr) {
    Caller c;
    c.uid = privileged ? 0 : 1000;
    c.privileged = privileged;
    HandlerResult r = handle_request(req, c, sample_snapshot());
    if (action) *action = r.action;
    return json::parse(r.response);
}

TEST(Framing, RoundTripAcrossArbitrarySplits) {
    std::vector<uint8_t> stream;
    for (const char* body : {"{\"command\":\"status\"}", "", "{}"}) {
        auto f = encode_frame(body);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
        FrameDecoder d(kMaxRequestFrame);
        std::vector<std::string> got;
        for (size_t i = 0; i < stream.size(); i += chunk) {
            d.feed(std::span<const uint8_t>(stream.data() + i, std::min(chunk, stream.size() - i)));
            while (auto f = d.next()) got.push_back(*f);
        }
        ASSERT_EQ(got, (std::vector<std::string>{"{\"command\":\"status\"}", "", "{}"})) << chunk;
        EXPECT_EQ(d.buffered(), 0u);
    }
}

TEST(Framing, OversizedFrameFailsTheStream) {
    FrameDecoder d(16);
    const uint8_t header[] = {0, 0, 0, 17};
    d.feed(header);
    EXPECT_FALSE(d.next());
    EXPECT_TRUE(d.failed());
}

TEST(Handler, EveryReadCommandReturnsItsSection) {
    json r = call(R"({"command":"status","id":7})");
    EXPECT_TRUE(r["ok"]);
    EXPECT_EQ(r["id"], 7);
    EXPECT_EQ(r["data"]["stratum"], 3);
    EXPECT_EQ(r["data"]["version"], "0.1.0");
    r = call(R"({"command":"tracking"})");
    EXPECT_DOUBLE_EQ(r["data"]["system_offset_s"].get<double>(), -12.5e-6);
    EXPECT_FALSE(r.contains("id"));
    r = call(R"({"command":"sources"})");
    ASSERT_EQ(r["data"]["sources"].size(), 1u);
    EXPECT_EQ(r["data"]["sources"][0]["reach"], 255);
    EXPECT_EQ(r["data"]["sources"][0]["state"], "selected");
    r = call(R"({"command":"sourcestats"})");
    EXPECT_EQ(r["data"]["sourcestats"][0]["samples"], 8);
    r = call(R"({"command":"kernel"})");
    EXPECT_EQ(r["data"]["status"], json({"STA_PLL", "STA_NANO"}));
    r = call(R"({"command":"pps"})");
    EXPECT_EQ(r["data"]["calibrations"], 42);
    r = call(R"({"command":"commands"})");
    EXPECT_EQ(r["data"]["commands"].size(), 9u);
}

TEST(Handler, SnapshotJsonRoundTrips) {
    const DaemonSnapshot s = sample_snapshot();
    json j = s.tracking;
    TrackingInfo back = j.get<TrackingInfo>();
    EXPECT_EQ(back.reference_id, s.tracking.reference_id);
    EXPECT_DOUBLE_EQ(back.frequency_ppm, s.tracking.frequency_ppm);
    // Missing fields take defaults (older daemons, newer clients).
    StatusInfo partial = json::parse(R"({"stratum": 2})").get<StatusInfo>();
    EXPECT_EQ(partial.stratum, 2);
    EXPECT_EQ(partial.leap, "none");
}

TEST(Handler, PrivilegedCommandsNeedPrivilege) {
    Action a = Action::None;
    json r = call(R"({"command":"reload"})", false, &a);
    EXPECT_FALSE(r["ok"]);
    EXPECT_EQ(a, Action::None);
    EXPECT_NE(r["error"].get<std::string>().find("permission denied"), std::string::npos);
    r = call(R"({"command":"reload"})", true, &a);
    EXPECT_TRUE(r["ok"]);
    EXPECT_EQ(a, Action::Reload);
    r = call(R"({"command":"makestep"})", true, &a);
    EXPECT_EQ(a, Action::MakeStep);
}

TEST(Handler, MalformedRequestsAreAnsweredNotThrown) {
    for (const char* bad : {"", "not json", "[]", "42", "{\"command\":5}", "{}",
                            "{\"command\":\"\\u0000\"}", "{\"command\":\"status\"", "\xff\xfe"}) {
        json r = call(bad);
        EXPECT_FALSE(r["ok"]) << bad;
        EXPECT_TRUE(r["error"].is_string());
    }
    EXPECT_EQ(call(R"({"command":"shutdown"})")["error"], "unknown command \"shutdown\"");
    EXPECT_EQ(call(std::string(10000, '['))["error"], "request nested too deeply");
    // Brackets inside strings do not count.
    EXPECT_TRUE(call(R"({"command":"status","note":"[[[[[[[[[[[[[[[[[[[[[[[["})")["ok"]);
}

TEST(Privilege, RootSelfAndGroupMembers) {
    const std::optional<gid_t> group = 123;
    EXPECT_TRUE(ControlServer::is_privileged(0, 5, {}, std::nullopt, 999));
    EXPECT_TRUE(ControlServer::is_privileged(999, 5, {}, std::nullopt, 999));
    EXPECT_FALSE(ControlServer::is_privileged(1000, 5, {}, std::nullopt, 999));
    EXPECT_TRUE(ControlServer::is_privileged(1000, 123, {}, group, 999));
    EXPECT_TRUE(ControlServer::is_privileged(1000, 5, {7, 123}, group, 999));
    EXPECT_FALSE(ControlServer::is_privileged(1000, 5, {7}, group, 999));
}

using ControlSocketTest = io::testing::LoopTest;

TEST_P(ControlSocketTest, RequestsOverTheSocket) {
    char dir[] = "/tmp/nanotime-ctl-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    ControlServerOptions o;
    o.path = std::string(dir) + "/ctl.sock";
    std::vector<Action> actions;
    auto server = std::make_unique<ControlServer>(
        *loop_, o, [] { return sample_snapshot(); },
        [&](Action a, const Caller&) { actions.push_back(a); });
    std::vector<std::string> replies;
    std::string error;
    bool done = false;
    std::thread client([&] {
        for (const char* req :
             {R"({"command":"status"})", R"({"command":"sources"})", R"({"command":"reload"})"}) {
            auto r = request(o.path, req, &error);
            replies.push_back(r ? *r : "ERROR " + error);
        }
        done = true;
    });
    io::testing::run_until(*loop_, [&] { return done; });
    client.join();
    ASSERT_EQ(replies.size(), 3u);
    EXPECT_EQ(json::parse(replies[0])["data"]["stratum"], 3);
    EXPECT_EQ(json::parse(replies[1])["data"]["sources"].size(), 1u);
    // The test runs as root or as the daemon's own uid: privileged.
    EXPECT_TRUE(json::parse(replies[2])["ok"]);
    EXPECT_EQ(actions, (std::vector<Action>{Action::Reload}));
    io::testing::run_until(*loop_, [&] { return server->connections() == 0; });
    EXPECT_EQ(server->connections(), 0u);
    EXPECT_EQ(server->requests(), 3u);
    server.reset();
    EXPECT_NE(access(o.path.c_str(), F_OK), 0);  // unlinked
    rmdir(dir);
}

TEST_P(ControlSocketTest, OversizedFrameIsRefusedAndClosed) {
    char dir[] = "/tmp/nanotime-ctl-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    ControlServerOptions o;
    o.path = std::string(dir) + "/ctl.sock";
    ControlServer server(
        *loop_, o, [] { return sample_snapshot(); }, nullptr);
    std::optional<std::string> reply;
    bool done = false;
    std::thread client([&] {
        std::string error;
        reply = request(o.path, std::string(kMaxRequestFrame + 1, ' '), &error);
        done = true;
    });
    io::testing::run_until(*loop_, [&] { return done; });
    client.join();
    ASSERT_TRUE(reply);
    EXPECT_EQ(json::parse(*reply)["error"], "frame too large");
    unlink(o.path.c_str());
    rmdir(dir);
}

NANOTIME_ALL_BACKENDS(ControlSocketTest);

}  // namespace
}  // namespace nanotime::ctl
