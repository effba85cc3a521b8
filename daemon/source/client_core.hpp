// client_core.hpp - all client associations and the system process together.
//
// The event loop owns one ClientCore. It feeds in timer expiries, replies
// (identified by the request ID of the SendTo that caused them), DNS results
// and clock steps, and carries out the returned ClientActions:
//   SendTo            send a request (see SendRequest in source_action.hpp)
//   SetSourceTimer    (re)arm the timer of one source
//   SourceRemoved     the source is gone (reason given): drop its timer and socket
//   Resolve           resolve a pool's name; answer with handle_resolved()
//                     or handle_resolve_failed()
//   SetPoolTimer      call handle_pool_timer() after the delay
//   DisciplineClock   carry out this clock command (frequency, slew, step)
//   SetClockFrequency the slew ended: run at this frequency
// The discipline is the daemon's own (see discipline/): each source keeps a
// regression over its samples on the oscillator's timescale (the correction
// ledger records every command), and each new sample from a survivor of
// selection updates the combined estimate and the clock command.
// Selection runs whenever a source has new statistics; its verdicts drive
// pool replacement (unreachable members, persistent falsetickers).
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "algorithm/system_process.hpp"
#include "discipline/clock_controller.hpp"
#include "discipline/correction_ledger.hpp"
#include "source/ntp_source.hpp"
#include "source/pool.hpp"
#include "source/refclock_source.hpp"

namespace nanotime::ntp {

using PoolId = uint32_t;

struct SendTo {
    SourceId source = 0;
    SendRequest request;
};
struct SetSourceTimer {
    SourceId source = 0;
    Nanoseconds after{0};
};
enum class RemovalReason : uint8_t {
    KissDeny,     // the server sent DENY
    KissRstr,     // the server sent RSTR
    Unreachable,  // pool member unreachable for 8 polls: replaced
    Falseticker,  // pool member a persistent falseticker: replaced
    Removed,      // remove_source() (configuration change)
};

struct SourceRemoved {
    SourceId source = 0;
    RemovalReason reason = RemovalReason::Removed;
};
struct Resolve {
    PoolId pool = 0;
    std::string hostname;
};
struct SetPoolTimer {
    PoolId pool = 0;
    Nanoseconds after{0};
};
struct DisciplineClock {
    ClockCommand command;
    ClockUpdate update;      // offset (s, now), jitter (s), the system peer
    double max_error = 0.0;  // s, root distance: for the kernel's maxerror
    double est_error = 0.0;  // s, the estimate's error: for the kernel's esterror
};
struct SetClockFrequency {
    double frequency = 0.0;  // fraction (ppm * 1e-6)
};
// A fault of the discipline was found or cleared; @text says which and what
// is done about it (logged by the daemon, shown in `nanotimectl status`).
struct DisciplineFault {
    bool raised = true;
    std::string text;
};

// An NTS source needs NTS-KE with @server (its address, the NTS-KE port):
// answer with handle_nts_keys() or handle_nts_failure().
struct NtsKeyExchange {
    SourceId source = 0;
    SocketAddress server;
};

using ClientAction =
    std::variant<SendTo, SetSourceTimer, SourceRemoved, Resolve, SetPoolTimer, DisciplineClock,
                 SetClockFrequency, DisciplineFault, NtsKeyExchange>;
using ClientActions = std::vector<ClientAction>;

struct SourceInfo {
    const NtpSource* source = nullptr;
    std::optional<PoolId> pool;
    SourceVerdict verdict;  // from the last selection
};

struct RefclockInfo {
    const RefclockSource* refclock = nullptr;
    SourceVerdict verdict;  // from the last selection
};

// The discipline's view of itself, for status.
struct DisciplineStatus {
    bool frequency_limited = false;  // the oscillator needs more than max_frequency
    bool stalled = false;            // no update for kStallPolls polls with sources reachable
    double last_update_age = -1.0;   // s since the last clock update, < 0: none yet
    unsigned updates = 0;
    unsigned restarts = 0;      // recoveries from a stall
    double frequency = 0.0;     // fraction, the base frequency set
    double frequency_sd = 0.0;  // fraction, its uncertainty
    double offset_sd = 0.0;     // s, of the last estimate
    double residual_sd = 0.0;   // s, combined std dev of the last estimate
    bool slewing = false;
};

// Updates missed (in the longest poll interval of the reachable sources)
// before the discipline calls itself stalled and restarts the estimates.
inline constexpr unsigned kStallPolls = 8;

class ClientCore {
  public:
    explicit ClientCore(SystemConfig system, ControllerConfig controller = {},
                        double initial_frequency = 0.0);

    SourceId add_server(const SourceConfig& config, RandomSource& random, ClientActions& out);
    PoolId add_pool(const PoolConfig& config, ClientActions& out);
    // A reference clock; its samples come through handle_refclock_sample().
    SourceId add_refclock(const RefclockConfig& config, ClientActions& out);
    void remove_source(SourceId id, NtpInstant now, ClientActions& out);
    // The pool and every member it spawned (configuration change); its
    // pending resolution and pool timer are answered with nothing.
    void remove_pool(PoolId id, NtpInstant now, ClientActions& out);

    ClientActions handle_source_timer(SourceId id, NtpInstant now, RandomSource& random);
    // @receive_source: whether @receive_time is the kernel's stamp.
    ClientActions handle_packet(uint64_t request_id, std::span<const uint8_t> bytes,
                                NtpInstant receive_time, RandomSource& random,
                                StampSource receive_source = StampSource::Kernel);
    // A reading of refclock @id from its driver (kept for its next poll).
    void handle_refclock_sample(SourceId id, const RefclockSample& sample);
    // A PPS edge of pulse refclock @id at local time @edge: its second
    // numbered by the refclock's `lock` or by the system (see
    // pulse_numbering.hpp), then kept as a reading, or refused with the
    // reason ("no second-numbering source").
    void handle_refclock_pulse(SourceId id, NtpInstant edge, NtpInstant now);
    // A reading of refclock @id that its driver refused.
    void handle_refclock_reject(SourceId id, RefclockReject reason, const std::string& detail);
    // Kernel TX timestamp of the request with @request_id (see
    // NtpSource::handle_transmit_timestamp); false if no source wanted it.
    bool handle_transmit_timestamp(uint64_t request_id, NtpInstant sent);
    ClientActions handle_resolved(PoolId pool, const std::vector<IpAddress>& addresses,
                                  NtpInstant now, RandomSource& random);
    ClientActions handle_resolve_failed(PoolId pool);
    // NTS-KE for @id succeeded: its keys and cookies, and NTP's address.
    ClientActions handle_nts_keys(SourceId id, nts::NtsClient client, SocketAddress ntp_server,
                                  NtpInstant now, RandomSource& random);
    // NTS-KE for @id failed; it asks again at a later poll.
    void handle_nts_failure(SourceId id);
    ClientActions handle_pool_timer(PoolId pool, NtpInstant now, RandomSource& random);
    ClientActions handle_clock_step(NtpInstant now);
    // The slew of the last DisciplineClock has run its course.
    ClientActions handle_slew_end(NtpInstant now);
    // The clock refused a command (@frequency is what it runs at now, read
    // back): the ledger follows the clock.
    void handle_command_failed(NtpInstant now, double frequency);
    // nanotimectl burst / offline / online on NTP source @id (see NtpSource);
    // false for unknown ids and refclocks, nothing changed.
    bool burst(SourceId id, unsigned requests, NtpInstant now, RandomSource& random,
               ClientActions& out);
    bool set_online(SourceId id, bool online, NtpInstant now, RandomSource& random,
                    ClientActions& out);
    // nanotimectl minpoll/maxpoll: false for unknown ids, refclocks and
    // limits outside kMinPoll <= minpoll <= maxpoll <= kMaxPoll.
    bool set_poll_limits(SourceId id, int8_t minpoll, int8_t maxpoll);
    // Arms a step for the next update (nanotimectl makestep).
    void arm_step() { controller_.arm_step(); }
    // Looks for faults that show only as an absence (no updates); called at
    // every source timer, and by the daemon whenever it likes.
    ClientActions check_health(NtpInstant now);

    const DisciplineStatus& discipline_status() const { return status_; }
    const CorrectionLedger& ledger() const { return ledger_; }
    const ClockController& controller() const { return controller_; }
    const SystemState& system_state() const { return system_.state(); }
    // NTP sources (servers and pool members).
    std::vector<SourceInfo> sources() const;
    std::vector<RefclockInfo> refclocks() const;
    // An NTP source; null for unknown ids and refclocks.
    const NtpSource* source(SourceId id) const;
    const RefclockSource* refclock(SourceId id) const;
    // Any source, NTP or refclock.
    const SelectableSource* selectable(SourceId id) const;
    const Pool* pool(PoolId id) const;

  private:
    struct Entry {
        std::unique_ptr<NtpSource> source;         // an NTP source, or
        std::unique_ptr<RefclockSource> refclock;  // a reference clock
        SelectableSource& selectable() const {
            if (source) return *source;
            return *refclock;
        }
        std::optional<PoolId> pool;
        std::optional<uint64_t> request_id;
        SourceVerdict verdict;
    };

    SourceId spawn(const SourceConfig& config, std::optional<PoolId> pool, RandomSource& random,
                   ClientActions& out);
    // Translates one source's actions; may remove the source.
    void apply(SourceId id, SourceActions actions, NtpInstant now, RandomSource& random,
               ClientActions& out, bool& select);
    void run_selection(NtpInstant now, RandomSource& random, ClientActions& out);
    void replenish(PoolId pool, NtpInstant now, RandomSource& random, ClientActions& out);
    void drop(SourceId id, NtpInstant now, RemovalReason reason, ClientActions& out);

    // From the estimators of the survivors to a clock command.
    void discipline(const SelectionOutcome& outcome, NtpInstant now, ClientActions& out);

    SystemProcess system_;
    CorrectionLedger ledger_;
    ClockController controller_;
    DisciplineStatus status_;
    std::optional<NtpInstant> last_clock_update_;
    std::map<SourceId, uint64_t> samples_used_;  // samples_accepted() at the last update
    std::map<SourceId, Entry> sources_;
    std::map<uint64_t, SourceId> requests_;  // outstanding request ID -> source
    std::map<PoolId, Pool> pools_;
    std::map<PoolId, bool> resolving_;
    SourceId next_source_ = 1;
    PoolId next_pool_ = 1;
};

}  // namespace nanotime::ntp
