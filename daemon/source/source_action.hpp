// source_action.hpp - what a source asks its owner to do.
//
// Handlers of a source (timer expiry, packet arrival) never perform I/O; they
// return a list of these actions, in order, like ntpd-rs's source.rs:
//   SendRequest   send `packet` to `destination` from a fresh socket bound to
//                 `source_port` (RFC 9109: a new random port per request); a
//                 reply on that socket is handed back with `request_id`. If
//                 the port is taken, any other random port will do.
//   SetTimer      (re)arm the source's single timer, `after` from now.
//   UpdateSystem  the source has new statistics: run selection.
//   Demobilize    stop the source for good (kiss-o'-death DENY or RSTR).
//   Reset         the source's measurements were discarded (unreachable for 8
//                 polls, or after a clock step); the system must stop using
//                 them. A pool replaces a member that reports Unreachable.
//   KeyExchange   an NTS source needs NTS-KE (no keys yet, cookies used up,
//                 an NTSN kiss-o'-death, or unanswered polls): the owner
//                 runs it and answers with NtpSource::set_nts() or
//                 nts_failed(). The source sends nothing until then.
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "algorithm/source_snapshot.hpp"
#include "net/socket_address.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::ntp {

struct SendRequest {
    SocketAddress destination;
    std::vector<uint8_t> packet;
    uint64_t request_id = 0;
    uint16_t source_port = 0;  // suggested random ephemeral port
};

struct SetTimer {
    Nanoseconds after{0};
};

struct UpdateSystem {
    SourceSnapshot snapshot;
};

enum class DemobilizeReason : uint8_t { KissDeny, KissRstr, Removed };

struct Demobilize {
    DemobilizeReason reason;
};

enum class ResetReason : uint8_t { Unreachable, ClockStep };

struct Reset {
    ResetReason reason;
};

struct KeyExchange {};

using SourceAction =
    std::variant<SendRequest, SetTimer, UpdateSystem, Demobilize, Reset, KeyExchange>;
using SourceActions = std::vector<SourceAction>;

}  // namespace nanotime::ntp
