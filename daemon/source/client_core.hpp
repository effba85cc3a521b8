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
//   DisciplineClock   feed this offset to the clock discipline
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
#include "source/ntp_source.hpp"
#include "source/pool.hpp"

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
    ClockUpdate update;
};

using ClientAction =
    std::variant<SendTo, SetSourceTimer, SourceRemoved, Resolve, SetPoolTimer, DisciplineClock>;
using ClientActions = std::vector<ClientAction>;

struct SourceInfo {
    const NtpSource* source = nullptr;
    std::optional<PoolId> pool;
    SourceVerdict verdict;  // from the last selection
};

class ClientCore {
  public:
    explicit ClientCore(SystemConfig system);

    SourceId add_server(const SourceConfig& config, RandomSource& random, ClientActions& out);
    PoolId add_pool(const PoolConfig& config, ClientActions& out);
    void remove_source(SourceId id, NtpInstant now, ClientActions& out);

    ClientActions handle_source_timer(SourceId id, NtpInstant now, RandomSource& random);
    ClientActions handle_packet(uint64_t request_id, std::span<const uint8_t> bytes,
                                NtpInstant receive_time, RandomSource& random);
    // Kernel TX timestamp of the request with @request_id (see
    // NtpSource::handle_transmit_timestamp); false if no source wanted it.
    bool handle_transmit_timestamp(uint64_t request_id, NtpInstant sent);
    ClientActions handle_resolved(PoolId pool, const std::vector<IpAddress>& addresses,
                                  NtpInstant now, RandomSource& random);
    ClientActions handle_resolve_failed(PoolId pool);
    ClientActions handle_pool_timer(PoolId pool, NtpInstant now, RandomSource& random);
    ClientActions handle_clock_step(NtpInstant now);

    const SystemState& system_state() const { return system_.state(); }
    std::vector<SourceInfo> sources() const;
    const NtpSource* source(SourceId id) const;
    const Pool* pool(PoolId id) const;

  private:
    struct Entry {
        std::unique_ptr<NtpSource> source;
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

    SystemProcess system_;
    std::map<SourceId, Entry> sources_;
    std::map<uint64_t, SourceId> requests_;  // outstanding request ID -> source
    std::map<PoolId, Pool> pools_;
    std::map<PoolId, bool> resolving_;
    SourceId next_source_ = 1;
    PoolId next_pool_ = 1;
};

}  // namespace nanotime::ntp
