// Fuzz target: the control socket's protocol as any local user can speak it
// (the socket is mode 0666 by default): stream bytes cut into frames by
// FrameDecoder, each frame handled as a JSON request. Every response must be
// one valid JSON object within the response limit; an unprivileged caller
// must never get an Action nor reach the management function, which sees
// only checked arguments. The first input byte picks privilege and the
// chunk size the bytes arrive in.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <span>

#include "algorithm/constants.hpp"
#include "ctl/framing.hpp"
#include "ctl/handler.hpp"

using namespace nanotime::ctl;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t control = data[0];
    std::span<const uint8_t> rest(data + 1, size - 1);
    Caller caller;
    caller.privileged = (control & 1) != 0;
    caller.uid = caller.privileged ? 0 : 1000;
    const size_t chunk = 1 + (control >> 1);
    DaemonSnapshot snapshot;
    snapshot.sources.resize(2);
    snapshot.sourcestats.resize(1);
    // Per-source views narrowed by "source": one to find, one to miss.
    snapshot.ntpdata.resize(2);
    snapshot.ntpdata[0].name = "a";
    snapshot.ntpdata[1].address = "192.0.2.1";
    snapshot.selectdata = {SelectDataInfo{}, SelectDataInfo{}};
    snapshot.selectdata[0].name = "a";
    // Management commands: the daemon's part, refusing one source by name.
    const ManageFn manage = [&caller](const ManageRequest& m) {
        check(caller.privileged);
        if (m.command == "minpoll" || m.command == "maxpoll") {
            check(!m.source.empty());
            check(m.value >= nanotime::ntp::kMinPoll && m.value <= nanotime::ntp::kMaxPoll);
        }
        // add: the [[source]] text within its bound (the daemon parses it as
        // its configuration: config_fuzz); delete: always a source.
        if (m.command == "add") check(m.content.size() <= kMaxSourceContent);
        if (m.command == "delete") check(!m.source.empty());
        ManageOutcome out;
        if (m.source == "x") {
            out.error = "no NTP source \"x\"";
        } else {
            out.data = {{"sources", {m.source}}, {"message", m.command}};
        }
        return out;
    };
    FrameDecoder decoder(kMaxRequestFrame);
    while (!rest.empty() && !decoder.failed()) {
        const size_t n = std::min(chunk, rest.size());
        decoder.feed(rest.first(n));
        rest = rest.subspan(n);
        while (auto frame = decoder.next()) {
            check(frame->size() <= kMaxRequestFrame);
            const HandlerResult r = handle_request(*frame, caller, snapshot, manage);
            check(r.response.size() <= kMaxResponseFrame);
            const auto j = nlohmann::json::parse(r.response, nullptr, false);
            check(!j.is_discarded() && j.is_object() && j.contains("ok"));
            if (!caller.privileged) check(r.action == Action::None);
            if (r.action != Action::None) check(j["ok"] == true);
            const auto framed = encode_frame(r.response);
            check(framed.size() == r.response.size() + 4);
        }
    }
    return 0;
}
