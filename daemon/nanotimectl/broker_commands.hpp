// broker_commands.hpp - nanotimectl's broker mode: the options that send a
// view or command through a fleet broker instead of the local socket
// (--broker URL (--token T | --cert C --key K) [--cacert F] --member NAME),
// and the commands that only exist at a broker: `fleet` (the members and
// their health), `token create|list|revoke`, `certificate
// create|list|revoke` (the broker's operator API, openapi.yaml).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "nanotimectl/broker_transport.hpp"

namespace nanotime::ctl {

struct BrokerCli {
    BrokerEndpoint endpoint;
    std::string member;
    // Management arguments.
    std::string name;
    std::string role;
    std::string id;  // token id or certificate fingerprint (revoke)
    std::string csr_file;
    unsigned days = 0;           // certificate validity; 0: the broker's default
    uint64_t expires_in = 0;     // token lifetime (s); 0: no expiry
    uint64_t audit_after = 0;    // audit: entries with a larger sequence number
    unsigned audit_limit = 100;  // audit: at most this many
    bool used() const { return !endpoint.url.empty(); }
};

// The options and the broker-only subcommands, before parsing.
void add_broker_cli(CLI::App& app, BrokerCli& cli);

// After parsing, with the chosen subcommand: its exit status when this was
// a broker-only command (or a usage error of broker mode); nullopt when
// the command is a view or control command to send as usual (through
// broker_control() when cli.used()).
std::optional<int> run_broker_cli(const CLI::App& app, const BrokerCli& cli, bool as_json);

// The `fleet` table from GET /v1/members's {"members":[...]}.
std::string format_fleet(const nlohmann::json& members, int64_t now_unix_s);

// The `audit` table from GET /v1/audit's {"entries":[...]} (times in UTC).
std::string format_audit(const nlohmann::json& reply);

}  // namespace nanotime::ctl
