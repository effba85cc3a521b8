// client_driver.hpp - drives the sans-IO client core (ClientCore): source
// life cycle (host name lookups, retries, pools, reload), a fresh socket per
// request, replies and transmit stamps back to the core, and the core's
// actions carried out (timers, removals; clock commands handed down to the
// ClockManager, whose returned actions come back here).
//
// Below it only the clock manager; above it Daemon, which it tells after
// every update through on_update (the server front-end and the status line
// read the new state then).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "nanotimed/clock_manager.hpp"
#include "nanotimed/nts_ke_client.hpp"
#include "nanotimed/resolver.hpp"
#include "nanotimed/timescale.hpp"
#include "refclock/refclock_reading.hpp"
#include "source/client_core.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

class ClientDriver {
  public:
    // @config: its sources and clock sections are read when sources are
    // added and cores made (a reload replaces config.sources first).
    ClientDriver(const config::Config& config, io::EventLoop& loop, const Timescale& timescale,
                 ClockManager& clock, io::RateLimitedLog& log, ntp::RandomSource& random,
                 std::function<void()> on_update);

    // The configured sources added to the core made at construction.
    void start();
    // A reload: config.sources compared with what runs. Sources no longer
    // configured are removed, new ones added; the ones still configured keep
    // running untouched (their samples, reach, NTS keys and cookies), and so
    // does the discipline.
    void reconcile_sources();
    // A reading (or refusal) from the driver of the @index-th [[refclock]]:
    // its system-clock moment moved onto the disciplined clock's timescale,
    // then into the core.
    void refclock_outcome(size_t index, const refclock::ParseOutcome& outcome);
    // nanotimectl burst / online / offline / minpoll / maxpoll on the NTP
    // sources named @want (configured name or address; "": every one, not
    // for minpoll/maxpoll). @error: refused, nothing changed.
    struct SourceCommand {
        std::vector<std::string> sources;  // "name (address)" of each source changed
        std::string message;               // what was done, a sentence
        std::string error;
    };
    SourceCommand burst(const std::string& want);
    SourceCommand set_online(const std::string& want, bool online);
    // @minpoll: sets the minpoll (else the maxpoll) to @value, log2 s.
    SourceCommand set_poll_limit(const std::string& want, bool minpoll, int value);
    // nanotimectl add: @entry runs from now on (its name looked up first,
    // as at start). Refused when an equal source runs already.
    SourceCommand add_source(const config::SourceEntry& entry);
    // The configured entries (servers and pools, from the configuration or
    // added at run time) @want names: by the name written, or a server by
    // its address. @error says why none (a pool member, a refclock).
    std::vector<config::SourceEntry> configured_named(const std::string& want,
                                                      std::string& error) const;
    // nanotimectl delete: removes what configured_named(@want) names.
    SourceCommand delete_source(const std::string& want);
    // nanotimectl makestep: the next update may step.
    void arm_step() { core_->arm_step(); }

    const ntp::ClientCore& core() const { return *core_; }
    // The system state as served: the leap file's announcement added.
    ntp::SystemState served_state() const;
    // The [[refclock]] a refclock source was made from (null for others).
    const config::RefclockEntry* refclock_entry(ntp::SourceId id) const;
    // The name a source was configured with ("-" if none).
    std::string source_name(ntp::SourceId id) const;
    // Configured servers whose host name is not resolved yet (activity).
    unsigned unresolved_sources() const;
    // NTP replies dropped: a CLOCK_REALTIME step fell inside the exchange.
    uint64_t exchanges_across_step() const { return exchanges_across_step_; }

    // NTS sources: their NTS-KE history (nanotimectl authdata).
    struct NtsKeHistory {
        uint64_t succeeded = 0;
        uint64_t failed = 0;
        std::optional<ntp::NtpInstant> last;  // the last success
        std::string last_error;
    };
    const NtsKeHistory* nts_history(ntp::SourceId id) const;

  private:
    struct SourceSlot {
        std::string name;  // as configured
        uint64_t timer = 0;
        uint64_t socket = 0;  // the socket of the outstanding request
        NtsKeHistory nts;
    };
    // One [[source]] of the configuration and what runs for it: a pool, or a
    // server once its name is resolved (a lookup or a retry before that).
    using ConfiguredId = uint64_t;
    struct Configured {
        config::SourceEntry entry;
        std::optional<ntp::PoolId> pool;
        std::optional<ntp::SourceId> server;
        uint64_t retry_timer = 0;
    };
    // Host name lookups in flight: what to do with the answer.
    struct Lookup {
        std::optional<ntp::PoolId> pool;
        std::optional<ConfiguredId> server;  // a configured server's name
        // The NTP server an NTS-KE named: its keys wait here for the address.
        std::optional<ntp::SourceId> nts_source;
        std::shared_ptr<NtsKeOutcome> nts;
    };

    std::unique_ptr<ntp::ClientCore> make_core();
    // The NTP sources @want names, or @error why none.
    std::vector<ntp::SourceId> named_sources(const std::string& want, std::string& error) const;
    std::string source_label(ntp::SourceId id) const;
    std::vector<ConfiguredId> configured_ids_named(const std::string& want) const;
    void add_configured(const config::SourceEntry& entry, ntp::ClientActions& actions);
    void remove_configured(ConfiguredId id, ntp::ClientActions& actions);
    void resolve_server(ConfiguredId id);
    void add_server(ConfiguredId id, const ntp::IpAddress& address, uint32_t scope_id);
    void on_resolved(const Resolution& r);
    void resolve_pool(ntp::PoolId pool, const std::string& hostname);
    void carry_out(ntp::ClientActions actions);
    void carry_out(const ClockActions& actions);
    void send_request(const ntp::SendTo& send);
    void start_key_exchange(const ntp::NtsKeyExchange& ke);
    void on_key_exchange(ntp::SourceId id, NtsKeOutcome outcome);
    void use_nts_keys(ntp::SourceId id, NtsKeOutcome& outcome, const ntp::IpAddress& ntp_ip);

    const config::Config& config_;
    io::EventLoop& loop_;
    const Timescale& timescale_;
    ClockManager& clock_;
    io::RateLimitedLog& log_;
    ntp::RandomSource& random_;
    std::function<void()> on_update_;
    std::unique_ptr<ntp::ClientCore> core_;
    uint64_t slew_timer_ = 0;  // calls the core's handle_slew_end
    std::map<ntp::SourceId, SourceSlot> sources_;
    std::map<ntp::PoolId, std::string> pools_;
    std::vector<ntp::SourceId> refclock_ids_;  // by [[refclock]] index
    std::map<ntp::PoolId, uint64_t> pool_timers_;
    std::map<ConfiguredId, Configured> configured_;
    ConfiguredId next_configured_ = 1;
    // tag -> lookup; answers for sources a reload removed find nothing.
    std::map<uint64_t, Lookup> lookups_;
    uint64_t next_lookup_ = 1;
    uint64_t exchanges_across_step_ = 0;
    bool synchronised_once_ = false;  // for [nts] certificate_time_check = "after_sync"
    std::unique_ptr<NtsKeClients> key_exchanges_;
    std::unique_ptr<Resolver> resolver_;  // last: destroyed first, before the loop
};

}  // namespace nanotime::daemon
