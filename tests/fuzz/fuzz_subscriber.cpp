// Fuzz target: the member's side of the broker subscription
// (daemon/broker/subscriber_session, upgrade_response) as a hostile broker
// can drive it: the bytes after the upgrade request (the 101 response, then
// frames) cut into chunks, the clock moving between them, relayed commands
// answered and states given when asked. The first input byte picks the
// chunk size and the time step. Checks: every message the member sends
// parses with the broker's own codec (parse_daemon_message), hello first;
// nothing is sent while no connection is up.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "broker/subscriber_session.hpp"

using namespace nanotime::broker;
using Kind = SubscriberAction::Kind;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

struct Driver {
    SubscriberSession session;
    Clock::time_point now{};
    bool connected = false;
    bool said_hello = false;

    Driver() : session(options(), [] { return 0.5; }) {}

    static SubscriberOptions options() {
        SubscriberOptions o;
        o.broker_host = "broker.example";
        o.host_name = "member";
        o.version = "0.1.0";
        o.roles = {"client"};
        return o;
    }

    void apply(const SubscriberActions& actions) {
        for (const SubscriberAction& a : actions) {
            switch (a.kind) {
                case Kind::Connect:
                    connected = false;
                    said_hello = false;
                    break;
                case Kind::Close:
                    connected = false;
                    break;
                case Kind::Send:
                    check(connected);
                    check_frames(a.bytes);
                    break;
                case Kind::RunCommand:
                    apply(session.command_result(a.id, R"({"ok":true,"command":"x","data":{}})"));
                    break;
                case Kind::NeedState:
                    apply(session.send_state(now, nlohmann::json::object()));
                    break;
            }
        }
    }

    void check_frames(const std::vector<uint8_t>& bytes) {
        if (bytes.size() >= 4 && bytes[0] == 'G') return;  // the upgrade request
        nanotime::ctl::FrameDecoder d(kMaxSubscriptionFrame);
        d.feed(bytes);
        while (auto body = d.next()) {
            const Parsed<DaemonMessage> p = parse_daemon_message(*body);
            check(p.message.has_value());
            const bool hello = std::holds_alternative<Hello>(*p.message);
            check(hello != said_hello);  // hello first, and only first
            said_hello = true;
        }
        check(!d.failed() && d.buffered() == 0);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t chunk = 1 + (data[0] & 0x3f) * 7;
    const auto step = std::chrono::milliseconds(((data[0] >> 6) & 3) * 700);
    Driver d;
    d.apply(d.session.start(d.now));
    d.connected = true;
    d.apply(d.session.on_connected(d.now));
    for (size_t at = 1; at < size; at += chunk) {
        const std::span<const uint8_t> piece(data + at, std::min(chunk, size - at));
        if (d.connected) d.apply(d.session.on_data(d.now, piece));
        d.now += step;
        d.apply(d.session.on_timer(d.now));
    }
    return 0;
}
