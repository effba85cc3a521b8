// system_process.hpp - from source statistics to system time (RFC 5905 §11).
//
// On each call with the current source snapshots:
//   1. fit:       drop sources that are unreachable, unsynchronized, of
//                 stratum >= 16, beyond MAXDIST root distance, or that are
//                 synchronized to us (reference ID loop).
//      quorum:    with no system peer, wait while the fit sources are not
//                 more than the sources still starting up, so the first
//                 source to fill its filter at startup (perhaps a
//                 falseticker) cannot take the clock alone. A source stops
//                 counting as starting after 4 samples, 12 requests, 8
//                 unanswered polls or an unsynchronized reply (see
//                 NtpSource), so the wait is bounded. Before the first
//                 synchronization, wait for all of them. With a system peer,
//                 sources that start later (added at run time, a pool's new
//                 member) join when ready and stop nothing.
//   2. select:    intersection -> truechimers; falsetickers are reported.
//                 A `trust`ed source is never a falseticker: when the
//                 majority's intersection leaves one out, the intersection
//                 of the trusted sources alone decides (chrony's trust).
//   3. cluster:   prune outliers to a tight group of survivors.
//   4. peer:      a survivor configured `prefer` (a refclock); else the
//                 best-merit survivor, except that the current system peer
//                 keeps its role while it survives at the head's stratum (no
//                 clock hopping).
//   5. combine:   weighted offset and system jitter.
//   6. update:    stratum = peer + 1, reference ID, root delay/dispersion,
//                 leap warning by majority of the survivors; a ClockUpdate
//                 for the discipline only when the system peer has a sample
//                 newer than the last one used.
#pragma once

#include <span>
#include <vector>

#include "algorithm/candidate.hpp"
#include "algorithm/source_snapshot.hpp"
#include "algorithm/system_state.hpp"

namespace nanotime::ntp {

enum class SourceStatus : uint8_t {
    Unfit,        // failed a fitness test (see Unfitness)
    Falseticker,  // outside the majority's intersection
    Outlier,      // truechimer dropped by clustering
    Survivor,     // combined into the system offset
    SystemPeer,   // the survivor the system follows
};

enum class Unfitness : uint8_t {
    None,
    NoStatistics,    // no clock-filter output yet
    Unreachable,     // reach register is zero (RFC 5905 TEST13)
    Unsynchronized,  // leap alarm or stratum >= 16 (TEST6/TEST7)
    TooFar,          // root distance beyond MAXDIST (TEST10/TEST11)
    Loop,            // the source is synchronized to us (TEST12)
    NoSelect,        // configured noselect: measured and shown only
};

struct SourceVerdict {
    SourceId id = 0;
    SourceStatus status = SourceStatus::Unfit;
    Unfitness unfitness = Unfitness::None;
    double root_distance = 0.0;  // s
};

// What the discipline (kernel PLL/FLL) is fed.
struct ClockUpdate {
    double offset = 0.0;  // s, server time minus local time
    double jitter = 0.0;  // s
    NtpInstant sample_time;
    SourceId system_peer = 0;
};

struct SelectionOutcome {
    std::vector<SourceVerdict> verdicts;  // one per snapshot, same order
    std::optional<ClockUpdate> clock_update;
    bool majority = false;  // a majority agreed and the state was updated
};

struct SystemConfig {
    int8_t precision = -20;              // log2 s of the local clock
    size_t min_sane = kMinSane;          // NSANE
    size_t min_cluster = kMinCluster;    // NMIN
    double max_distance = kMaxDistance;  // s
    // Our own reference IDs (one per local address): a source whose
    // reference ID matches is synchronized to us.
    std::vector<uint32_t> own_reference_ids;
};

// The leap warning more than half of @survivors (indices into @candidates,
// whose `index` points into @sources) announce; otherwise none (or
// @fallback when it says unsynchronised).
LeapIndicator majority_leap(std::span<const SourceSnapshot> sources,
                            std::span<const Candidate> candidates,
                            std::span<const size_t> survivors, LeapIndicator fallback);

class SystemProcess {
  public:
    explicit SystemProcess(SystemConfig config);

    SelectionOutcome select(std::span<const SourceSnapshot> sources, NtpInstant now);

    // The discipline updated the clock at @now: the system variables a
    // server advertises come from its estimate from now on (offset, jitter,
    // root delay and dispersion in s, the dispersion's growth in s/s).
    void record_update(NtpInstant now, double offset, double jitter, double root_delay,
                       double root_dispersion, double dispersion_rate);

    const SystemState& state() const { return state_; }
    const SystemConfig& config() const { return config_; }

  private:
    Unfitness fitness(const SourceSnapshot& source, NtpInstant now, double distance) const;

    SystemConfig config_;
    SystemState state_;
    std::optional<NtpInstant> last_update_sample_;
    bool disciplined_ = false;  // record_update() was called
};

}  // namespace nanotime::ntp
