// refclock_source.hpp - one reference clock as a source (sans-IO).
//
// A refclock is a source whose samples come from a driver (gpsd's SOCK
// datagrams, an ntpd SHM segment) instead of NTP replies: each sample says
// what the reference's time was at a moment of the local clock. The event
// loop reads the device, the driver's parser (refclock/) validates the bytes
// and the loop hands each good sample here with add_sample(); a rejected one
// is counted with reject() and changes nothing else.
//
// Samples collect between polls (at most `filter` of them, oldest dropped).
// At each poll (handle_timer) they become one: the median-centred mean
// (with 5 or more, the lowest and highest fifth of offsets dropped, as
// chrony's median filter does), at the mean local time of those kept, with
// the spread of those kept as its doubt. That sample feeds the clock filter
// and the estimator exactly as an NTP exchange does, so the refclock goes
// through the same selection, clustering and combining as NTP sources. A
// poll that had a sample sets the reach bit; eight empty polls make the
// refclock unreachable.
//
// It serves as a primary reference: stratum 0 with its own reference ID
// (so the system is stratum 1 with that refid), root delay and dispersion
// zero (its own `delay` and the estimate's doubt make up the system's).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "algorithm/clock_filter.hpp"
#include "discipline/correction_ledger.hpp"
#include "discipline/source_estimator.hpp"
#include "source/reachability.hpp"
#include "source/selectable_source.hpp"
#include "source/source_action.hpp"

namespace nanotime::ntp {

struct RefclockConfig {
    uint32_t reference_id = 0;  // four ASCII characters, "GPS" -> 'G','P','S',0
    int8_t poll = 4;            // log2 s between polls (samples arrive more often)
    unsigned filter = 64;       // samples kept between polls (chrony's median filter length)
    double offset = 0.0;        // s, added to every sample's offset (reference minus local)
    double delay = 1e-9;        // s, the sample's assumed round trip: its error bound
    int8_t precision = -20;     // log2 s of the refclock's readings
    bool prefer = false;        // made the system peer whenever it survives
    bool noselect = false;      // measured and shown, never selected
    bool trust = false;         // never a falseticker (system_process.hpp)
    // A pulse-per-second source (driver pps): its edges only mark a second,
    // which `lock` or the system numbers (source/pulse_numbering.hpp).
    bool pulse = false;
    std::optional<uint32_t> lock;  // the reference ID of the refclock numbering its pulses
};

// One reading from a driver, on the local clock's timescale.
struct RefclockSample {
    NtpInstant local;     // local clock at the reading
    double offset = 0.0;  // s, the reference's time minus @local
    LeapIndicator leap = LeapIndicator::NoWarning;
};

// Why a driver's reading was not used.
enum class RefclockReject : uint8_t {
    WrongSize,          // SOCK: a datagram of the wrong length
    WrongMagic,         // SOCK: not "SOCK"
    BadMode,            // SHM: mode neither 0 nor 1
    TornRead,           // SHM mode 1: the writer's count moved during the read
    NotValid,           // SHM: no new sample (valid flag clear); not an error, counted apart
    BadTimestamp,       // a field out of range (nanoseconds >= 1e9, negative seconds)
    BadLeap,            // a leap code the protocol does not define
    Unsynchronized,     // the driver says it has no time (leap 3)
    PulseOnly,          // SOCK: a pulse sample (only driver pps numbers pulses)
    Unavailable,        // the device could not be opened or read
    NoSecondNumbering,  // a pulse: neither `lock` nor the system numbers its second
    LockMismatch,       // a pulse: the locked refclock is not near any second of it
};
inline constexpr size_t kRefclockRejectKinds = 12;
const char* to_string(RefclockReject reason);

struct RefclockCounters {
    uint64_t samples = 0;  // readings taken in
    uint64_t polls = 0;
    uint64_t polls_with_samples = 0;  // polls that produced a sample for the filter
    uint64_t dropped_full = 0;        // readings pushed out of a full buffer
    std::array<uint64_t, kRefclockRejectKinds> rejected{};  // by RefclockReject
};

class RefclockSource final : public SelectableSource {
  public:
    // @ledger (may be null: nothing is ever corrected) must outlive the source.
    RefclockSource(SourceId id, RefclockConfig config, const CorrectionLedger* ledger = nullptr);

    // Arms the first poll one poll interval from now.
    SourceActions start() const;
    // A good reading from the driver (the configured offset is added here).
    void add_sample(const RefclockSample& sample);
    // The newest reading taken (configured offset included), for the pulse
    // refclocks locked to this one; kept across polls, dropped by a step.
    const std::optional<RefclockSample>& last_reading() const { return last_reading_; }
    // A reading the driver refused: counted, and named in status.
    void reject(RefclockReject reason, const std::string& detail);
    // The poll: the readings since the last one become one sample.
    SourceActions handle_timer(NtpInstant now);
    // The local clock was stepped by something else: every reading is wrong now.
    void reset_after_clock_step();

    // SelectableSource
    SourceId id() const override { return id_; }
    SourceSnapshot snapshot() const override;
    const SourceEstimator& estimator() const override { return estimator_; }
    uint64_t samples_accepted() const override { return counters_.polls_with_samples; }
    int8_t poll() const override { return config_.poll; }
    uint8_t reach() const override { return reach_.value(); }
    bool demobilized() const override { return false; }
    void apply_step(double amount_s) override;
    void restart_estimates() override;

    const RefclockConfig& config() const { return config_; }
    const RefclockCounters& counters() const { return counters_; }
    const ClockFilter& filter() const { return filter_; }
    // Readings waiting for the next poll.
    size_t pending() const { return pending_.size(); }
    // The last refusal's reason and detail ("" if none).
    const std::string& last_error() const { return last_error_; }

  private:
    SourceId id_;
    RefclockConfig config_;
    Reachability reach_;
    ClockFilter filter_;
    CorrectionLedger own_ledger_;
    const CorrectionLedger* ledger_;
    SourceEstimator estimator_;
    RefclockCounters counters_;
    std::vector<RefclockSample> pending_;                 // oldest first
    std::optional<RefclockSample> last_reading_;          // newest added (offset corrected)
    LeapIndicator leap_ = LeapIndicator::Unsynchronized;  // of the last sample used
    unsigned silent_polls_ = 0;                           // polls in a row without a reading
    bool unreachable_reported_ = false;
    std::string last_error_;
};

}  // namespace nanotime::ntp
