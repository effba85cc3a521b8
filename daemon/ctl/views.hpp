// views.hpp - the control views that come from the protocol core: each
// source's newest sample and its estimator as the discipline uses them, the
// discipline's state and faults, and the system variables as the server
// serves them. Pure functions of the core and the time, so that the tests
// can hold them against what the server puts on the wire.
#pragma once

#include "algorithm/system_process.hpp"
#include "algorithm/system_state.hpp"
#include "ctl/snapshot.hpp"
#include "source/client_core.hpp"

namespace nanotime::ctl {

// A source's newest sample and its clock-filter statistics at @now. Name,
// address, kind and state are the daemon's to fill.
SourceInfo source_view(const ntp::SelectableSource& source, ntp::NtpInstant now);
// A refclock's: the above, with its readings taken and refused.
SourceInfo refclock_view(const ntp::RefclockSource& refclock, ntp::NtpInstant now);

// A source's estimator predicted to @now, in terms of the local clock as it
// runs now (@core's correction ledger). Name is the daemon's to fill.
SourceStatsInfo sourcestats_view(const ntp::SelectableSource& source, const ntp::ClientCore& core,
                                 ntp::NtpInstant now);
// An NTP source's: the above, with its request and reply counters.
SourceStatsInfo sourcestats_view(const ntp::NtpSource& source, const ntp::ClientCore& core,
                                 ntp::NtpInstant now);

// An NTP source's last exchange that gave a sample, and its packet counters
// (nanotimectl ntpdata). Name, address and reference ID text are the
// daemon's to fill.
NtpDataInfo ntpdata_view(const ntp::NtpSource& source, ntp::NtpInstant now);

// Why a source is or is not selected, from its @verdict at the last
// selection (nanotimectl selectdata). Name and address are the daemon's.
SelectDataInfo selectdata_view(const ntp::SelectableSource& source,
                               const ntp::SourceVerdict& verdict, ntp::NtpInstant now);

// The leap indicator as the views print it: "none", "insert", "delete",
// "unknown" (not synchronised).
const char* leap_name(ntp::LeapIndicator leap);

// "1733580000.123456789": Unix nanoseconds @unix_ns as seconds with all
// nine digits.
std::string unix_ns_text(int64_t unix_ns);

// The system's state at @now. @served is the state the server answers with
// (the daemon's, after its leap-file override): root delay and dispersion are
// taken from it exactly as NtpServer puts them in a reply.
// Reference and leap names are the daemon's to fill.
TrackingInfo tracking_view(const ntp::ClientCore& core, const ntp::SystemState& served,
                           ntp::NtpInstant now);

// The discipline's health at @now.
DisciplineInfo discipline_view(const ntp::ClientCore& core, ntp::NtpInstant now);

}  // namespace nanotime::ctl
