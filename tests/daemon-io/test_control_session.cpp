// ControlSession without a socket: the control protocol of one connection,
// fed bytes and drain events, checked through the steps it returns.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ctl/control_session.hpp"

namespace nanotime::ctl {
namespace {

DaemonSnapshot empty_snapshot() {
    return DaemonSnapshot{};
}

std::vector<uint8_t> frames(std::initializer_list<const char*> bodies) {
    std::vector<uint8_t> out;
    for (const char* b : bodies) {
        const std::vector<uint8_t> f = encode_frame(b);
        out.insert(out.end(), f.begin(), f.end());
    }
    return out;
}

// The reply body of a step's write (one frame).
std::string reply_of(const SessionStep& step) {
    FrameDecoder d(kMaxResponseFrame);
    d.feed(step.write);
    auto f = d.next();
    return f ? *f : std::string("<no frame>");
}

TEST(ControlSessionTest, OneRequestInFlightThenTheNextAfterTheDrain) {
    ControlSession s(Caller{1000, 1000, 42, false});
    const std::vector<uint8_t> two =
        frames({R"({"command":"commands","id":1})", R"({"command":"commands","id":2})"});
    SessionStep step = s.on_data(two, empty_snapshot);
    EXPECT_TRUE(step.progress);
    EXPECT_TRUE(step.pause_reading);
    EXPECT_FALSE(step.close);
    EXPECT_NE(reply_of(step).find("\"id\":1"), std::string::npos) << reply_of(step);
    EXPECT_TRUE(s.replying());
    EXPECT_EQ(s.requests(), 1u) << "the second request waits for the first reply";

    // More bytes while the reply is in flight: buffered, no reply, no progress.
    step = s.on_data(frames({R"({"command":"commands","id":3})"}), empty_snapshot);
    EXPECT_TRUE(step.write.empty());
    EXPECT_FALSE(step.progress);

    step = s.on_drained(empty_snapshot);
    EXPECT_NE(reply_of(step).find("\"id\":2"), std::string::npos);
    EXPECT_TRUE(step.pause_reading);
    EXPECT_FALSE(step.resume_reading);
    step = s.on_drained(empty_snapshot);
    EXPECT_NE(reply_of(step).find("\"id\":3"), std::string::npos);
    step = s.on_drained(empty_snapshot);
    EXPECT_TRUE(step.write.empty());
    EXPECT_TRUE(step.resume_reading) << "nothing buffered: read again";
    EXPECT_FALSE(s.replying());
    EXPECT_EQ(s.requests(), 3u);
}

TEST(ControlSessionTest, PartialFrameIsProgressWithoutAReply) {
    ControlSession s(Caller{});
    const std::vector<uint8_t> f = frames({R"({"command":"commands"})"});
    SessionStep step = s.on_data(std::span<const uint8_t>(f).first(3), empty_snapshot);
    EXPECT_TRUE(step.write.empty());
    EXPECT_TRUE(step.progress);
    step = s.on_data(std::span<const uint8_t>(f).subspan(3), empty_snapshot);
    EXPECT_FALSE(step.write.empty());
}

TEST(ControlSessionTest, OversizeFrameGetsAnErrorAndCloses) {
    ControlSession s(Caller{});
    // A length prefix far over kMaxRequestFrame.
    std::vector<uint8_t> f = encode_frame(std::string(kMaxRequestFrame + 1, 'x'));
    SessionStep step = s.on_data(f, empty_snapshot);
    EXPECT_TRUE(step.close);
    EXPECT_EQ(reply_of(step), R"({"ok":false,"error":"frame too large"})");
    EXPECT_EQ(s.requests(), 0u);
}

TEST(ControlSessionTest, UnprivilegedCallerCannotStepTheClock) {
    ControlSession s(Caller{1000, 1000, 42, false});
    SessionStep step = s.on_data(frames({R"({"command":"makestep"})"}), empty_snapshot);
    EXPECT_EQ(step.action, Action::None);
    EXPECT_NE(reply_of(step).find("\"ok\":false"), std::string::npos) << reply_of(step);
    ControlSession root(Caller{0, 0, 1, true});
    step = root.on_data(frames({R"({"command":"makestep"})"}), empty_snapshot);
    EXPECT_EQ(step.action, Action::MakeStep) << reply_of(step);
}

}  // namespace
}  // namespace nanotime::ctl
