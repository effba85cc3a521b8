// broker_commands.cpp - nanotimectl's broker mode (see broker_commands.hpp).
#include "nanotimectl/broker_commands.hpp"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "nanotimectl/format.hpp"

namespace nanotime::ctl {
namespace {

using nlohmann::json;

const char* const kBrokerOnly[] = {"fleet", "token", "certificate", "audit"};

bool is_broker_only(const std::string& name) {
    for (const char* c : kBrokerOnly)
        if (name == c) return true;
    return false;
}

// One call; prints the JSON answer (pretty) or the error. Exit status as
// for the control socket: 0 ok, 1 refused, 2 unreachable.
int call_and_print(const BrokerCli& cli, const char* method, const std::string& path,
                   const std::string& body, bool as_json,
                   std::string (*format)(const json&) = nullptr) {
    std::string error;
    const std::optional<BrokerReply> reply = broker_call(cli.endpoint, method, path, body, &error);
    if (!reply) {
        std::cerr << "nanotimectl: " << error << "\n";
        return 2;
    }
    if (reply->status / 100 != 2) {
        std::cerr << "nanotimectl: broker: " << describe_error(*reply) << "\n";
        return 1;
    }
    const json j = json::parse(reply->body, nullptr, false);
    if (j.is_discarded()) {
        std::cerr << "nanotimectl: the broker sent something that is not JSON\n";
        return 2;
    }
    std::cout << (format != nullptr && !as_json ? format(j) : j.dump(2) + "\n");
    return 0;
}

std::string fleet_now(const json& j) {
    return format_fleet(j, static_cast<int64_t>(std::time(nullptr)));
}

std::string audit_table(const json& j) {
    return format_audit(j);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

void add_broker_cli(CLI::App& app, BrokerCli& cli) {
    auto* url = app.add_option("--broker", cli.endpoint.url,
                               "send through this fleet broker (https://host:4461) instead of "
                               "the local socket");
    app.add_option("--token", cli.endpoint.token, "bearer token for the broker")
        ->envname("NANOTIME_BROKER_TOKEN");
    auto* cert = app.add_option("--cert", cli.endpoint.certificate,
                                "client certificate (PEM) the broker's CA issued")
                     ->needs(url);
    auto* key =
        app.add_option("--key", cli.endpoint.private_key, "its private key (PEM)")->needs(cert);
    cert->needs(key);
    app.add_option("--cacert", cli.endpoint.ca_certificate,
                   "trust anchors (PEM) for the broker's certificate")
        ->needs(url);
    app.add_option("--member", cli.member, "the fleet member a view or command is for")->needs(url);

    app.add_subcommand("fleet", "the broker's members and their health (--broker)");
    CLI::App* token = app.add_subcommand("token", "bearer tokens at the broker (--broker)");
    token->require_subcommand(1, 1);
    CLI::App* tc = token->add_subcommand("create", "a new token (shown once)");
    tc->add_option("--name", cli.name, "who the token is for")->required();
    tc->add_option("--role", cli.role, "monitor, operator or admin")->required();
    tc->add_option("--expires-in", cli.expires_in, "seconds until it expires (default: never)");
    token->add_subcommand("list", "the tokens (no secrets)");
    token->add_subcommand("revoke", "revoke a token")
        ->add_option("id", cli.id, "the token's id")
        ->required();
    CLI::App* certificate =
        app.add_subcommand("certificate", "client certificates from the broker's CA (--broker)");
    certificate->require_subcommand(1, 1);
    CLI::App* cc = certificate->add_subcommand("create", "issue a certificate");
    cc->add_option("--name", cli.name, "subject name (a member's name for role member)")
        ->required();
    cc->add_option("--role", cli.role, "member, monitor, operator or admin")->required();
    cc->add_option("--days", cli.days, "validity in days (default: the broker's)");
    cc->add_option("--csr", cli.csr_file,
                   "PEM certificate request to sign (default: the broker makes the key)");
    certificate->add_subcommand("list", "the issued certificates");
    CLI::App* audit =
        app.add_subcommand("audit", "the broker's audit log, oldest first (--broker, admin)");
    audit->add_option("--after", cli.audit_after, "only entries after this sequence number");
    audit->add_option("--limit", cli.audit_limit, "at most this many entries")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    certificate->add_subcommand("revoke", "revoke a certificate")
        ->add_option("fingerprint", cli.id, "its SHA-256 fingerprint (hex)")
        ->required();
}

std::optional<int> run_broker_cli(const CLI::App& app, const BrokerCli& cli, bool as_json) {
    const CLI::App* sub = app.get_subcommands().front();
    const std::string command = sub->get_name();
    if (!cli.used()) {
        if (!is_broker_only(command)) return std::nullopt;
        std::cerr << "nanotimectl: " << command << " needs --broker URL\n";
        return 2;
    }
    if (!is_broker_only(command)) {
        if (cli.member.empty()) {
            std::cerr << "nanotimectl: through a broker, say which member: --member NAME\n";
            return 2;
        }
        return std::nullopt;
    }
    if (command == "fleet")
        return call_and_print(cli, "GET", "/v1/members", "", as_json, fleet_now);
    if (command == "audit") {
        return call_and_print(cli, "GET",
                              "/v1/audit?after=" + std::to_string(cli.audit_after) +
                                  "&limit=" + std::to_string(cli.audit_limit),
                              "", as_json, audit_table);
    }
    const std::string action = sub->get_subcommands().front()->get_name();
    const std::string base = command == "token" ? "/v1/tokens" : "/v1/certificates";
    if (action == "list") return call_and_print(cli, "GET", base, "", as_json);
    if (action == "revoke")
        return call_and_print(cli, "DELETE", base + "/" + path_segment(cli.id), "", as_json);
    json body = {{"name", cli.name}, {"role", cli.role}};
    if (command == "token" && cli.expires_in != 0) body["expires_in"] = cli.expires_in;
    if (command == "certificate" && cli.days != 0) body["days"] = cli.days;
    if (command == "certificate" && !cli.csr_file.empty()) body["csr"] = read_file(cli.csr_file);
    return call_and_print(cli, "POST", base, body.dump(), as_json);
}

std::string format_fleet(const json& reply, int64_t now_unix_s) {
    std::ostringstream out;
    char line[320];
    std::snprintf(line, sizeof line, "%-20s %-9s %-20s %-9s %-5s %3s %11s %s\n", "Member",
                  "Connected", "Host", "Version", "Sync", "St", "Offset", "Last state");
    out << line;
    const json members = reply.value("members", json::array());
    for (const json& m : members) {
        std::string age = "never";
        if (m.contains("state_time") && m["state_time"].is_number()) {
            // state_time: Unix seconds or milliseconds; both print as an age.
            double t = m["state_time"].get<double>();
            if (t > 1e11) t /= 1000;
            const double ago = static_cast<double>(now_unix_s) - t;
            std::snprintf(line, sizeof line, "%.0f s ago", ago < 0 ? 0 : ago);
            age = line;
        }
        // Health from the member's last state (absent until it sent one).
        std::string sync = "-", stratum = "-", offset = "-";
        if (const auto h = m.find("health"); h != m.end() && h->is_object()) {
            sync = h->value("synchronized", false) ? "yes" : "no";
            stratum = std::to_string(h->value("stratum", 16));
            offset = format_seconds(h->value("offset_s", 0.0));
        }
        std::snprintf(
            line, sizeof line, "%-20s %-9s %-20s %-9s %-5s %3s %11s %s\n",
            m.value("name", std::string("?")).c_str(), m.value("connected", false) ? "yes" : "no",
            m.value("host", std::string("-")).c_str(), m.value("version", std::string("-")).c_str(),
            sync.c_str(), stratum.c_str(), offset.c_str(), age.c_str());
        out << line;
    }
    if (members.empty()) out << "(no members)\n";
    return out.str();
}

std::string format_audit(const json& reply) {
    std::ostringstream out;
    char line[512];
    std::snprintf(line, sizeof line, "%8s %-24s %-24s %-22s %-16s %s\n", "Seq", "Time (UTC)",
                  "Actor", "Action", "Target", "Result");
    out << line;
    const json entries = reply.value("entries", json::array());
    for (const json& e : entries) {
        // time_ms: Unix milliseconds.
        const std::time_t t = static_cast<std::time_t>(e.value("time_ms", int64_t{0}) / 1000);
        std::tm tm{};
        char when[32] = "-";
        if (gmtime_r(&t, &tm) == nullptr || std::strftime(when, sizeof when, "%F %T", &tm) == 0)
            std::snprintf(when, sizeof when, "-");
        std::snprintf(line, sizeof line, "%8lld %-24s %-24s %-22s %-16s %s\n",
                      static_cast<long long>(e.value("seq", int64_t{0})), when,
                      e.value("actor", std::string("-")).c_str(),
                      e.value("action", std::string("-")).c_str(),
                      e.value("target", std::string("-")).c_str(),
                      e.value("result", std::string("-")).c_str());
        out << line;
    }
    if (entries.empty()) out << "(no entries)\n";
    return out.str();
}

}  // namespace nanotime::ctl
