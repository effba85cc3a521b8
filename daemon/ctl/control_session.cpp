// control_session.cpp - the control protocol of one connection, sans-IO
// (see control_session.hpp).
#include "ctl/control_session.hpp"

namespace nanotime::ctl {

SessionStep ControlSession::on_data(std::span<const uint8_t> data, const SnapshotFn& snapshot,
                                    const ManageFn& manage) {
    SessionStep step;
    decoder_.feed(data);
    // Bytes that arrive while a reply waits (at most the one receive that
    // was in flight when reading stopped) wait in the decoder, and are not
    // progress: a client that does not read its replies times out.
    step.progress = !replying_;
    serve_next(step, snapshot, manage);
    return step;
}

SessionStep ControlSession::on_drained(const SnapshotFn& snapshot, const ManageFn& manage) {
    SessionStep step;
    if (!replying_) return step;
    replying_ = false;
    step.progress = true;
    step.resume_reading = true;
    serve_next(step, snapshot, manage);
    return step;
}

void ControlSession::serve_next(SessionStep& step, const SnapshotFn& snapshot,
                                const ManageFn& manage) {
    if (replying_) return;
    if (auto frame = decoder_.next()) {
        ++requests_;
        HandlerResult r = handle_request(*frame, caller_, snapshot(), manage);
        step.write = encode_frame(r.response);
        // One reply in flight: read nothing more until it is written.
        replying_ = true;
        step.pause_reading = true;
        step.resume_reading = false;
        step.action = r.action;
        return;
    }
    if (decoder_.failed()) {
        step.write = encode_frame(R"({"ok":false,"error":"frame too large"})");
        step.close = true;
    }
}

}  // namespace nanotime::ctl
