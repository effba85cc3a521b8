// served_clients.hpp - the clients view (nanotimectl clients, chronyc
// clients) built from the server threads' rate-limit tables.
//
// Each server thread has its own table (server.workers > 1: SO_REUSEPORT
// spreads clients by address and port, so one client may be in several).
// Each table hands over its most recently seen rows (RateLimiter::clients);
// here they are merged by client address (counts added, the latest
// last-seen kept), the most recent kept up to the cap, and turned into the
// control protocol's view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ctl/snapshot.hpp"
#include "server/ntp_server.hpp"
#include "server/rate_limiter.hpp"

namespace nanotime::daemon {

// One thread's table as handed over.
struct ClientTable {
    std::vector<ntp::RateLimitedClient> rows;  // at most the cap, most recent first
    uint64_t tracked = 0;                      // clients the table holds
};

// @server's rate-limit table as handed over (empty without rate limiting).
ClientTable client_table(const ntp::NtpServer& server);

// What the table says after RateLimiter::reset_counters(): same clients,
// zero counts.
void zero_counters(ClientTable& table);

// The tables' clients merged: at most @max_rows rows, most recently seen
// first, ages relative to @now. @rate_limit: whether limiting (and so the
// counting) is on.
ctl::ClientsInfo clients_view(const std::vector<ClientTable>& tables, bool rate_limit,
                              ntp::NtpInstant now, size_t max_rows);

}  // namespace nanotime::daemon
