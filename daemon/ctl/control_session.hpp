// control_session.hpp - one control connection's protocol as a sans-IO
// object: bytes in, what to write and what the transport must do out. It
// knows framing, the request handler and the one-request-in-flight rule;
// it never sees a socket, a timer or a credential check (the transport,
// control_server.cpp, and the authenticator, peer_auth.hpp, do). The same
// session can therefore sit behind the AF_UNIX socket today and behind TLS
// (io/stream_server.hpp) later.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "ctl/framing.hpp"
#include "ctl/handler.hpp"

namespace nanotime::ctl {

// What the transport does after feeding a session, in this order: write
// @write; pause or resume reading; run @action; close (after the write)
// when @close. @progress: the peer made progress (a request started or a
// reply was taken): the transport re-arms its idle timeout.
struct SessionStep {
    std::vector<uint8_t> write;
    bool pause_reading = false;
    bool resume_reading = false;
    bool close = false;
    bool progress = false;
    Action action = Action::None;
};

class ControlSession {
  public:
    using SnapshotFn = std::function<DaemonSnapshot()>;

    explicit ControlSession(Caller caller) : caller_(caller) {}

    // Bytes from the peer. At most one request is answered per reply
    // drained: one reply in flight, reading paused meanwhile, so that a
    // client that sends without reading fills its own buffers, not ours.
    // @manage carries out management commands (handler.hpp) before their
    // reply; empty: they are refused.
    SessionStep on_data(std::span<const uint8_t> data, const SnapshotFn& snapshot,
                        const ManageFn& manage = {});
    // The previous reply has been handed to the kernel in full.
    SessionStep on_drained(const SnapshotFn& snapshot, const ManageFn& manage = {});

    const Caller& caller() const { return caller_; }
    bool replying() const { return replying_; }
    uint64_t requests() const { return requests_; }

  private:
    // Answers the next buffered request into @step unless a reply is in flight.
    void serve_next(SessionStep& step, const SnapshotFn& snapshot, const ManageFn& manage);

    FrameDecoder decoder_{kMaxRequestFrame};
    Caller caller_;
    bool replying_ = false;  // a reply is queued, not yet all with the kernel
    uint64_t requests_ = 0;
};

}  // namespace nanotime::ctl
