// nanotimectl - talk to nanotimed over its control socket.
//
//   nanotimectl [--socket PATH] [--json]
//       status|tracking|sources|sourcestats|authdata|serverstats|activity|kernel|pps
//   nanotimectl [--json] ntpdata|selectdata [SOURCE]
//   nanotimectl watch [--interval S]        (a terminal: tracking and sources, live)
//   nanotimectl [--json] clients [-p PACKETS] [--sort last|packets] [-r]
//                                        (-r: root or the control group)
//   nanotimectl waitsync [TRIES [MAX-OFFSET [MAX-SKEW [INTERVAL]]]]
//   nanotimectl reload|makestep          (root or the control group)
//   nanotimectl burst|online|offline [SOURCE]      (root or the control group)
//   nanotimectl minpoll|maxpoll SOURCE POLL        (root or the control group)
//   nanotimectl leapfile FILE                      (root or the control group)
//   nanotimectl add server|pool HOST [OPTION...]   (root or the control group)
//   nanotimectl delete SOURCE                      (root or the control group)
//   nanotimectl --broker URL ... --member NAME <view or command>, fleet,
//       token ..., certificate ...     (broker_commands.hpp)
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "ctl/control_server.hpp"
#include "ctl/snapshot_json.hpp"
#include "nanotimectl/broker_commands.hpp"
#include "nanotimectl/format.hpp"
#include "nanotimectl/source_spec.hpp"
#include "nanotimectl/waitsync.hpp"
#include "nanotimectl/watch_terminal.hpp"

// A function-try-block: any exception ends in a message and status 2 (as
// for a daemon that cannot be reached), not in std::terminate.
int main(int argc, char** argv) try {
    CLI::App app{"nanotimectl - monitor and control nanotimed"};
    std::string socket_path = "/run/nanotime/nanotimed.sock";
    bool as_json = false;
    int timeout_ms = 5000;
    app.add_option("-s,--socket", socket_path, "control socket of nanotimed")
        ->capture_default_str();
    app.add_flag("-j,--json", as_json, "print the daemon's JSON instead of a table");
    app.add_option("--timeout", timeout_ms, "milliseconds to wait for the daemon")
        ->capture_default_str();
    app.require_subcommand(1, 1);
    const std::vector<std::pair<const char*, const char*>> commands = {
        {"status", "daemon state, synchronisation summary and counters"},
        {"tracking", "the system clock's reference, offset, frequency, root distance"},
        {"sources", "the time sources and their last measurements"},
        {"sourcestats", "clock-filter statistics of each source"},
        {"authdata", "NTS state of each NTS source: keys, cookies, key exchanges, NAKs"},
        {"serverstats", "the server: NTP and NTS requests, NTS-KE handshakes, master keys"},
        {"activity", "how many sources are online, offline, in a burst, unresolved"},
        {"kernel", "the disciplined clock's kernel state (adjtimex)"},
        {"pps", "the kernel PPS discipline state"},
        {"reload", "re-read the configuration's sources (privileged)"},
        {"makestep", "step the clock at the next update, whatever the offset (privileged)"},
    };
    for (auto [name, help] : commands) app.add_subcommand(name, help);
    // Per-source views: every NTP source, or the one named (name or address).
    std::string source;
    app.add_subcommand("ntpdata", "the last NTP exchange with each source: header, timestamps")
        ->add_option("source", source, "a source's name or address (default: all)");
    app.add_subcommand("selectdata", "why each source is or is not selected")
        ->add_option("source", source, "a source's name or address (default: all)");
    // Management (privileged): chronyc's burst, online, offline, minpoll, maxpoll.
    app.add_subcommand("burst", "poll a source 4 times 2 s apart now, then as before (privileged)")
        ->add_option("source", source, "a source's name or address (default: all)");
    app.add_subcommand("online", "resume polling a source (privileged)")
        ->add_option("source", source, "a source's name or address (default: all)");
    app.add_subcommand("offline", "stop polling a source (privileged)")
        ->add_option("source", source, "a source's name or address (default: all)");
    int poll_value = 0;
    for (const char* limit : {"minpoll", "maxpoll"}) {
        CLI::App* sub = app.add_subcommand(
            limit, std::string("set a source's ") + limit + ", log2 s (privileged)");
        sub->add_option("source", source, "a source's name or address")->required();
        sub->add_option("poll", poll_value, "log2 s")->required();
    }
    std::string leap_path;
    app.add_subcommand("leapfile",
                       "install this leap-seconds.list as the daemon's leap file (privileged)")
        ->add_option("file", leap_path, "a leap-seconds.list file here")
        ->required();
    // chronyc's add server / add pool and delete: kept across restarts by
    // the daemon ([control] sources_file).
    std::vector<std::string> add_words;
    app.add_subcommand("add",
                       "add a source at run time: server|pool HOST [iburst] [minpoll N] ... "
                       "(privileged)")
        ->add_option("words", add_words,
                     "server|pool, the host, then [[source]] options: iburst xleave nts trust, "
                     "port N, minpoll N, maxpoll N, max_sources N, nts_port N")
        ->required();
    app.add_subcommand("delete", "remove a configured source at run time (privileged)")
        ->add_option("source", source, "the name written for it, or a server's address")
        ->required();
    // chronyc clients: from the server's rate-limit tables.
    uint64_t min_packets = 0;
    bool reset_clients = false;
    nanotime::ctl::ClientOrder client_order = nanotime::ctl::ClientOrder::LastSeen;
    CLI::App* clients = app.add_subcommand(
        "clients", "the server's clients: requests, drops, KoD, NTS, interleaved, last seen");
    clients->add_option("-p,--packets", min_packets,
                        "only clients with at least this many requests");
    clients->add_option("--sort", client_order, "row order: last (most recent first) or packets")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, nanotime::ctl::ClientOrder>{
                {"last", nanotime::ctl::ClientOrder::LastSeen},
                {"packets", nanotime::ctl::ClientOrder::Packets}},
            CLI::ignore_case));
    clients->add_flag("-r,--reset", reset_clients,
                      "zero the counters after reading them (privileged)");
    nanotime::ctl::WaitSyncOptions wait;
    CLI::App* waitsync = app.add_subcommand(
        "waitsync", "wait until synchronised; exit 0 then, 1 when the tries run out");
    waitsync->add_option("tries", wait.tries, "tries before giving up (0: no limit)")
        ->capture_default_str();
    waitsync
        ->add_option("max-offset", wait.max_offset_s,
                     "largest |offset| that counts as synchronised, s (0: any)")
        ->capture_default_str();
    waitsync->add_option("max-skew", wait.max_skew_ppm, "largest skew, ppm (0: any)")
        ->capture_default_str();
    waitsync->add_option("interval", wait.interval_s, "seconds between tries")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    nanotime::ctl::WatchOptions watch;
    app.add_subcommand("watch", "tracking and sources full screen, refreshed (q quits)")
        ->add_option("--interval", watch.interval_s, "seconds between refreshes")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](const std::string& text) {
                char* end = nullptr;
                const double s = std::strtod(text.c_str(), &end);
                if (end == text.c_str() || *end != '\0' ||
                    !(s >= nanotime::ctl::kMinWatchInterval_s) ||
                    s > nanotime::ctl::kMaxWatchInterval_s)
                    return "seconds from 0.1 to 3600, not " + text;
                return std::string();
            },
            "0.1..3600"));
    nanotime::ctl::BrokerCli broker;
    nanotime::ctl::add_broker_cli(app, broker);
    CLI11_PARSE(app, argc, argv);
    if (auto status = nanotime::ctl::run_broker_cli(app, broker, as_json)) return *status;
    const std::string command = app.get_subcommands().front()->get_name();
    // One request to the daemon: through its control socket, or relayed by
    // the fleet broker to the member named with --member.
    auto send = [&](const std::string& body, std::string* why) -> std::optional<std::string> {
        if (broker.used())
            return nanotime::ctl::broker_control(broker.endpoint, broker.member, body, why);
        return nanotime::ctl::request(socket_path, body, why, timeout_ms);
    };

    if (command == "watch") {
        if (as_json) {
            std::cerr << "nanotimectl: watch is for a terminal; for JSON ask the views: "
                         "--json tracking, --json sources\n";
            return 2;
        }
        if (broker.used()) {
            watch.where = "member " + broker.member + " via " + broker.endpoint.url;
        } else {
            char host[256] = {};
            gethostname(host, sizeof host - 1);
            watch.where = host;
        }
        return nanotime::ctl::run_watch(watch, send);
    }
    if (command == "waitsync") {
        auto ask = [&](std::string* why) -> std::optional<nanotime::ctl::TrackingInfo> {
            auto reply = send(R"({"command":"tracking"})", why);
            if (!reply) return std::nullopt;
            const nlohmann::json r = nlohmann::json::parse(*reply, nullptr, false);
            if (r.is_discarded() || !r.value("ok", false) || !r.contains("data")) {
                *why = "the daemon's answer is not a tracking view";
                return std::nullopt;
            }
            return r["data"].get<nanotime::ctl::TrackingInfo>();
        };
        auto sleep = [](double s) {
            std::this_thread::sleep_for(std::chrono::duration<double>(s));
        };
        auto report = [](const std::string& line) { std::cout << line << std::endl; };
        return nanotime::ctl::wait_sync(wait, ask, sleep, report);
    }

    std::string error;
    nlohmann::json req = {{"command", command}};
    if (!source.empty()) req["source"] = source;
    if (command == "minpoll" || command == "maxpoll") req["value"] = poll_value;
    if (command == "add") {
        const auto table = nanotime::ctl::source_toml(add_words, error);
        if (!table) {
            std::cerr << "nanotimectl: " << error << "\n";
            return 2;
        }
        req["content"] = *table;
    }
    if (command == "clients" && reset_clients) req["reset"] = true;
    if (command == "leapfile") {
        // The daemon checks it; read no more than it takes, so that a
        // larger file is refused by size, not cut.
        std::ifstream in(leap_path, std::ios::binary);
        if (!in) {
            std::cerr << "nanotimectl: cannot read " << leap_path << "\n";
            return 2;
        }
        std::string text(nanotime::ctl::kMaxLeapFileContent + 1, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<size_t>(in.gcount()));
        req["content"] = text;
    }
    auto reply = send(req.dump(), &error);
    if (!reply) {
        std::cerr << "nanotimectl: " << error << "\n";
        return 2;
    }
    const nlohmann::json r = nlohmann::json::parse(*reply, nullptr, false);
    if (r.is_discarded() || !r.is_object()) {
        std::cerr << "nanotimectl: the daemon sent something that is not JSON\n";
        return 2;
    }
    if (!r.value("ok", false)) {
        std::cerr << "nanotimectl: " << r.value("error", std::string("request failed")) << "\n";
        return 1;
    }
    nlohmann::json data = r.at("data");
    if (command == "clients") nanotime::ctl::select_clients(data, min_packets, client_order);
    if (as_json) {
        std::cout << data.dump(2) << "\n";
        return 0;
    }
    try {
        std::cout << nanotime::ctl::format_human(command, data);
    } catch (const nlohmann::json::exception& e) {
        std::cerr << "nanotimectl: unexpected response: " << e.what() << "\n";
        return 2;
    }
    return 0;
} catch (const std::exception& e) {
    std::cerr << "nanotimectl: " << e.what() << "\n";
    return 2;
}
