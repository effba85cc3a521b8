// served_clients.cpp - the clients view from the rate-limit tables (see
// served_clients.hpp).
#include "nanotimed/served_clients.hpp"

#include <algorithm>
#include <map>

namespace nanotime::daemon {

ClientTable client_table(const ntp::NtpServer& server) {
    ClientTable table;
    if (const ntp::RateLimiter* limiter = server.rate_limiter()) {
        table.rows = limiter->clients(ctl::kMaxClientRows);
        table.tracked = limiter->tracked_clients();
    }
    return table;
}

void zero_counters(ClientTable& table) {
    for (ntp::RateLimitedClient& row : table.rows) {
        row.requests = row.drops = row.kods = row.nts = row.interleaved = 0;
    }
}

ctl::ClientsInfo clients_view(const std::vector<ClientTable>& tables, bool rate_limit,
                              ntp::NtpInstant now, size_t max_rows) {
    ctl::ClientsInfo view;
    view.ntp = true;
    view.rate_limit = rate_limit;
    view.max_rows = max_rows;
    // Added up in 64 bits: a client in several tables can pass 2^32.
    struct Merged {
        ntp::NtpInstant last_seen;
        ctl::ClientInfo info;
    };
    std::map<ntp::IpAddress, Merged> merged;
    for (const ClientTable& table : tables) {
        view.tracked += table.tracked;
        // A table that held more than it handed over: some clients are missing.
        if (table.tracked > table.rows.size()) view.truncated = true;
        for (const ntp::RateLimitedClient& row : table.rows) {
            Merged& m = merged[row.client];
            m.last_seen = std::max(m.last_seen, row.last_seen);
            m.info.ntp_requests += row.requests;
            m.info.ntp_drops += row.drops;
            m.info.ntp_kod += row.kods;
            m.info.nts_requests += row.nts;
            m.info.ntp_interleaved += row.interleaved;
        }
    }
    std::vector<std::pair<const ntp::IpAddress, Merged>*> rows;
    rows.reserve(merged.size());
    for (auto& entry : merged) rows.push_back(&entry);
    std::sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) {
        return a->second.last_seen > b->second.last_seen;
    });
    if (rows.size() > max_rows) {
        rows.resize(max_rows);
        view.truncated = true;
    }
    view.clients.reserve(rows.size());
    for (auto* row : rows) {
        ctl::ClientInfo& c = row->second.info;
        c.address = row->first.to_string();
        c.last_seen_ago_s = std::max(0.0, ntp::to_seconds(now - row->second.last_seen));
        view.clients.push_back(std::move(c));
    }
    return view;
}

}  // namespace nanotime::daemon
