// nanotimectl waitsync: the decision from the tracking view, and the loop's
// exit status (0 reached, 1 tries spent), with a scripted daemon.
#include <gtest/gtest.h>

#include <deque>

#include "nanotimectl/waitsync.hpp"

namespace nanotime::ctl {
namespace {

TrackingInfo synchronised(double offset_s, double skew_ppm = 0.01) {
    TrackingInfo t;
    t.reference_id = "192.0.2.1";
    t.stratum = 2;
    t.system_offset_s = offset_s;
    t.system_offset_age_s = 3;
    t.skew_ppm = skew_ppm;
    return t;
}

TEST(WaitSync, SynchronisedWithinTheLimitsOnly) {
    WaitSyncOptions o;
    EXPECT_FALSE(sync_reached(TrackingInfo{}, o));  // stratum 16, reference "-"
    TrackingInfo no_update = synchronised(0);
    no_update.system_offset_age_s = -1;
    EXPECT_FALSE(sync_reached(no_update, o));
    EXPECT_TRUE(sync_reached(synchronised(0.5), o));  // no limit: any offset
    o.max_offset_s = 1e-3;
    EXPECT_FALSE(sync_reached(synchronised(2e-3), o));
    EXPECT_FALSE(sync_reached(synchronised(-2e-3), o));
    EXPECT_TRUE(sync_reached(synchronised(-0.5e-3), o));
    o.max_skew_ppm = 1;
    EXPECT_FALSE(sync_reached(synchronised(0, 5), o));
    EXPECT_TRUE(sync_reached(synchronised(0, 0.5), o));
}

// A daemon that answers from a script, one answer per try; nothing = no answer.
struct Script {
    std::deque<std::optional<TrackingInfo>> answers;
    unsigned asked = 0;
    std::vector<double> slept;
    std::vector<std::string> lines;
    int run(const WaitSyncOptions& o) {
        return wait_sync(
            o,
            [this](std::string* error) -> std::optional<TrackingInfo> {
                ++asked;
                std::optional<TrackingInfo> a = answers.empty() ? std::nullopt : answers.front();
                if (!answers.empty()) answers.pop_front();
                if (!a) *error = "connection refused";
                return a;
            },
            [this](double s) { slept.push_back(s); },
            [this](const std::string& l) { lines.push_back(l); });
    }
};

TEST(WaitSync, ExitsZeroOnceSynchronised) {
    Script s;
    s.answers = {std::nullopt, TrackingInfo{}, synchronised(5e-3), synchronised(1e-4)};
    WaitSyncOptions o;
    o.max_offset_s = 1e-3;
    o.interval_s = 0.5;
    EXPECT_EQ(s.run(o), 0);
    EXPECT_EQ(s.asked, 4u);
    EXPECT_EQ(s.slept, (std::vector<double>{0.5, 0.5, 0.5}));
    ASSERT_EQ(s.lines.size(), 4u);
    EXPECT_EQ(s.lines[0], "try 1: no answer (connection refused)");
    EXPECT_EQ(s.lines[1], "try 2: not synchronised");
    EXPECT_NE(s.lines[3].find("reference 192.0.2.1, stratum 2, offset 100.000 us"),
              std::string::npos)
        << s.lines[3];
}

TEST(WaitSync, ExitsOneWhenTheTriesRunOut) {
    Script s;
    s.answers = {TrackingInfo{}, synchronised(5e-3), synchronised(5e-3), synchronised(0)};
    WaitSyncOptions o;
    o.tries = 3;
    o.max_offset_s = 1e-3;
    EXPECT_EQ(s.run(o), 1);
    EXPECT_EQ(s.asked, 3u);
    EXPECT_EQ(s.slept.size(), 2u);  // no sleep after the last try
}

}  // namespace
}  // namespace nanotime::ctl
