// End to end, once per I/O backend: the real nanotimed binary (seccomp
// enforced, clock.adjust = false so the host clock is never touched)
// synchronises to a stratum-1 NTP responder on loopback, serves time at
// stratum 2, and answers nanotimectl; fed by a [[refclock]] (gpsd's SOCK
// datagrams) it serves stratum 1.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "ctl/control_server.hpp"
#include "ctl/framing.hpp"
#include "leap_file_support.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

uint64_t ntp_now() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const uint64_t secs = static_cast<uint64_t>(ts.tv_sec) + 2208988800ULL;
    const uint64_t frac = (static_cast<uint64_t>(ts.tv_nsec) << 32) / 1000000000ULL;
    return (secs << 32) | frac;
}

void put64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

// A stratum-1 server: answers every mode-3 request with the system time.
// @host: a loopback address (host order), so several can be told apart.
class Responder {
  public:
    explicit Responder(uint32_t host = INADDR_LOOPBACK) {
        fd_ = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(host);
        bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        timeval tv{0, 100000};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        thread_ = std::thread([this] { serve(); });
    }
    ~Responder() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    uint16_t port() const { return port_; }
    int answered() const { return answered_; }

  private:
    void serve() {
        while (!stop_) {
            uint8_t req[512];
            sockaddr_storage peer{};
            socklen_t plen = sizeof peer;
            const ssize_t n =
                recvfrom(fd_, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&peer), &plen);
            if (n < 48 || (req[0] & 7) != 3) continue;
            const uint64_t rx = ntp_now();
            uint8_t r[48] = {};
            r[0] = (0 << 6) | (4 << 3) | 4;  // LI 0, version 4, mode 4
            r[1] = 1;                        // stratum 1
            r[2] = req[2];
            r[3] = static_cast<uint8_t>(-20);
            r[11] = 0x10;  // root dispersion 1/16 ms-ish
            std::memcpy(r + 12, "GPS", 4);
            put64(r + 16, rx - (uint64_t{1} << 32));  // reference: a second ago
            std::memcpy(r + 24, req + 40, 8);         // origin = their transmit
            put64(r + 32, rx);
            put64(r + 40, ntp_now());
            sendto(fd_, r, sizeof r, 0, reinterpret_cast<sockaddr*>(&peer), plen);
            ++answered_;
        }
    }
    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> answered_{0};
    std::thread thread_;
};

std::string run_capture(const std::string& cmd, int* status) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    *status = pclose(p);
    return out;
}

// The sanitizer runtimes make system calls of their own (LeakSanitizer
// stops the world with ptrace at exit): sanitized builds log instead of kill.
#ifdef NANOTIME_SANITIZED
constexpr const char* kSeccomp = "log";
#else
constexpr const char* kSeccomp = "enforce";
#endif

class DaemonEndToEnd : public ::testing::TestWithParam<std::string> {};

TEST_P(DaemonEndToEnd, SyncsServesAndAnswersNanotimectl) {
    Responder upstream;
    char dir[] = "/tmp/nanotimed-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string sock = std::string(dir) + "/ctl.sock";
    const int serve_port = 20000 + getpid() % 20000;
    const std::string conf = std::string(dir) + "/nanotimed.toml";
    std::ofstream(conf) << "[[source]]\nserver = \"127.0.0.1\"\nport = " << upstream.port()
                        << "\nminpoll = 3\nmaxpoll = 4\niburst = true\n\n"
                        << "[server]\nlisten = [\"127.0.0.1:" << serve_port
                        << "\"]\nallow = [\"127.0.0.0/8\"]\n\n"
                        << "[clock]\nadjust = false\ndrift_file = \"\"\n\n"
                        << "[control]\nsocket = \"" << sock << "\"\n\n"
                        << "[io]\nbackend = \"" << GetParam() << "\"\n\n"
                        << "[log]\nlevel = \"debug\"\nfile = \"" << dir << "/log\"\n\n"
                        << "[service]\nuser = \"\"\nseccomp = \"" << kSeccomp << "\"\n";
    int status = 0;
    run_capture(std::string(NANOTIMED_PATH) + " --check-config -c " + conf, &status);
    ASSERT_EQ(status, 0);

    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl(NANOTIMED_PATH, "nanotimed", "-c", conf.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Wait for synchronisation (iburst: a few seconds).
    json st;
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (std::chrono::steady_clock::now() < deadline) {
        std::string err;
        if (auto r = nanotime::ctl::request(sock, R"({"command":"status"})", &err, 1000)) {
            st = json::parse(*r)["data"];
            if (st.value("synchronized", false)) break;
        }
        std::this_thread::sleep_for(200ms);
    }
    ASSERT_TRUE(st.value("synchronized", false)) << st.dump();
    EXPECT_EQ(st["stratum"], 2);
    EXPECT_EQ(st["reference_id"], "127.0.0.1");
    EXPECT_EQ(st["io_backend"], GetParam());
    EXPECT_GE(upstream.answered(), 4);

    // nanotimectl, both forms.
    const std::string ctl = std::string(NANOTIMECTL_PATH) + " -s " + sock;
    const std::string table = run_capture(ctl + " sources", &status);
    EXPECT_EQ(status, 0);
    EXPECT_NE(table.find("* 127.0.0.1"), std::string::npos) << table;
    const json sources = json::parse(run_capture(ctl + " --json sources", &status));
    ASSERT_EQ(sources["sources"].size(), 1u);
    EXPECT_EQ(sources["sources"][0]["state"], "selected");
    EXPECT_LT(std::abs(sources["sources"][0]["offset_s"].get<double>()), 0.01);
    for (const char* cmd : {"status", "tracking", "sourcestats", "kernel", "pps", "ntpdata",
                            "selectdata", "activity", "serverstats", "authdata"}) {
        run_capture(ctl + " " + cmd, &status);
        EXPECT_EQ(status, 0) << cmd;
        // --json as documented: the versioned schema, every field.
        const std::string file = std::string(dir) + "/" + cmd + ".json";
        run_capture(ctl + " --json " + cmd + " > " + file, &status);
        EXPECT_EQ(status, 0) << cmd;
        const std::string checked =
            run_capture(std::string("/usr/bin/python3 " NANOTIME_SOURCE_DIR
                                    "/tests/daemon-io/check_json_schema.py " NANOTIME_SOURCE_DIR
                                    "/daemon/nanotimectl/nanotimectl.schema.json --view ") +
                            cmd + " " + file + " 2>&1",
                        &status);
        EXPECT_EQ(status, 0) << cmd << ": " << checked;
    }
    // The last exchange, as measured.
    const json ntpdata = json::parse(run_capture(ctl + " --json ntpdata 127.0.0.1", &status));
    ASSERT_EQ(ntpdata["ntpdata"].size(), 1u) << ntpdata.dump();
    EXPECT_TRUE(ntpdata["ntpdata"][0]["has_exchange"]);
    EXPECT_EQ(ntpdata["ntpdata"][0]["stratum"], 1);
    EXPECT_EQ(ntpdata["ntpdata"][0]["reference_id"], "GPS");
    EXPECT_FALSE(ntpdata["ntpdata"][0].contains("schema_version"));  // once, on the view
    EXPECT_EQ(ntpdata["schema_version"], 1);
    const json selectdata = json::parse(run_capture(ctl + " --json selectdata", &status));
    EXPECT_EQ(selectdata["selectdata"][0]["state_code"], "*") << selectdata.dump();
    run_capture(ctl + " ntpdata nowhere.example 2>/dev/null", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1);
    // waitsync: synchronised now, so the first try says 0; a daemon that
    // never answers spends the tries and says 1.
    run_capture(ctl + " waitsync 1 0.01", &status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    const std::string nowhere = std::string(NANOTIMECTL_PATH) + " -s " + dir + "/none.sock";
    const std::string waited = run_capture(nowhere + " waitsync 2 0 0 0.1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << waited;
    EXPECT_NE(waited.find("try 2: no answer"), std::string::npos) << waited;

    // As a server: stratum 2, refid = upstream address.
    const int c = socket(AF_INET, SOCK_DGRAM, 0);
    timeval tv{2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(serve_port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // First a datagram larger than any receive buffer: dropped unanswered,
    // and counted where an operator looks (status).
    const std::vector<uint8_t> oversized(8000, 0x23);
    sendto(c, oversized.data(), oversized.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    uint8_t req[48] = {0x23};
    put64(req + 40, 0x0102030405060708ULL);
    sendto(c, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    uint8_t reply[64];
    const ssize_t n = recv(c, reply, sizeof reply, 0);
    close(c);
    ASSERT_EQ(n, 48);
    EXPECT_EQ(reply[0] & 7, 4);
    EXPECT_EQ(reply[1], 2);
    EXPECT_EQ(std::memcmp(reply + 24, req + 40, 8), 0);
    EXPECT_EQ(std::memcmp(reply + 12, "\x7f\x00\x00\x01", 4), 0);
    {
        std::string err;
        const auto r = nanotime::ctl::request(sock, R"({"command":"status"})", &err, 1000);
        ASSERT_TRUE(r.has_value()) << err;
        const json after = json::parse(*r)["data"];
        EXPECT_EQ(after["datagrams_truncated"], 1) << after.dump();
        EXPECT_EQ(after["server_responded"], 1) << after.dump();
    }

    // SIGHUP reloads; SIGTERM stops cleanly (no SIGSYS from seccomp).
    kill(pid, SIGHUP);
    std::this_thread::sleep_for(300ms);
    kill(pid, SIGTERM);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::ifstream logf(std::string(dir) + "/log");
    const std::string log((std::istreambuf_iterator<char>(logf)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(WIFEXITED(wstatus))
        << "signal " << (WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0) << "\n"
        << log;
    EXPECT_EQ(WEXITSTATUS(wstatus), 0) << log;
    EXPECT_NE(log.find("reloaded: 1 sources"), std::string::npos) << log;
    EXPECT_EQ(access(sock.c_str(), F_OK), -1);
    std::string cleanup = std::string("rm -rf ") + dir;
    run_capture(cleanup, &status);
}

// The daemon's status (data of "status") or its sources, through the
// control socket; an empty object when it does not answer (yet).
json control_data(const std::string& sock, const char* command) {
    std::string err;
    const auto r = nanotime::ctl::request(sock, std::string(R"({"command":")") + command + R"("})",
                                          &err, 1000);
    return r ? json::parse(*r).value("data", json::object()) : json::object();
}

// A source of a "sources" reply by name; an empty object when absent.
json source_named(const json& sources, const std::string& name) {
    if (!sources.is_object() || !sources.contains("sources")) return json::object();
    for (const json& s : sources["sources"])
        if (s["name"] == name) return s;
    return json::object();
}

// A reload changes only what changed: a source still configured keeps its
// state (reach, samples) and the discipline keeps its own (still
// synchronised, updates counted on); a removed source goes, a new one comes.
// Before, every reload started a fresh core: unsynchronised until the next
// iburst, reach 0, NTS sources re-keyed.
TEST_P(DaemonEndToEnd, ReloadKeepsTheSourcesThatDidNotChange) {
    Responder kept(0x7f000002), removed(0x7f000003), added(0x7f000004);
    char dir[] = "/tmp/nanotimed-reload-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string sock = std::string(dir) + "/ctl.sock";
    const std::string conf = std::string(dir) + "/nanotimed.toml";
    const auto source = [](const char* host, uint16_t port) {
        return std::string("[[source]]\nserver = \"") + host +
               "\"\nport = " + std::to_string(port) +
               "\nminpoll = 3\nmaxpoll = 4\niburst = true\n\n";
    };
    const std::string rest = std::string("[clock]\nadjust = false\ndrift_file = \"\"\n\n") +
                             "[control]\nsocket = \"" + sock + "\"\n\n[io]\nbackend = \"" +
                             GetParam() + "\"\n\n[log]\nlevel = \"debug\"\nfile = \"" + dir +
                             "/log\"\n\n[service]\nuser = \"\"\nseccomp = \"" + kSeccomp + "\"\n";
    std::ofstream(conf) << source("127.0.0.2", kept.port()) << source("127.0.0.3", removed.port())
                        << rest;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl(NANOTIMED_PATH, "nanotimed", "-c", conf.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // A failed assertion returns early: the daemon must not outlive the test.
    struct Reaper {
        pid_t pid;
        ~Reaper() {
            if (kill(pid, SIGKILL) == 0) waitpid(pid, nullptr, 0);
        }
    } reaper{pid};
    // Synchronised, and the kept source's register full of answers.
    json st, before;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
        st = control_data(sock, "status");
        before = source_named(control_data(sock, "sources"), "127.0.0.2");
        if (st.value("synchronized", false) && before.value("reach", 0u) >= 0x1f) break;
        std::this_thread::sleep_for(200ms);
    }
    ASSERT_TRUE(st.value("synchronized", false)) << st.dump();
    ASSERT_GE(before.value("reach", 0u), 0x1fu) << before.dump();
    const unsigned updates = st.value("discipline", json::object()).value("updates", 0u);

    // The kept source moves down the file (another line), one goes, one comes.
    std::ofstream(conf) << "# moved down by a comment\n"
                        << source("127.0.0.2", kept.port()) << source("127.0.0.4", added.port())
                        << rest;
    kill(pid, SIGHUP);
    json sources;
    const auto reloaded = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < reloaded) {
        sources = control_data(sock, "sources");
        if (!source_named(sources, "127.0.0.4").empty()) break;
        std::this_thread::sleep_for(50ms);
    }
    st = control_data(sock, "status");
    const json after = source_named(sources, "127.0.0.2");
    kill(pid, SIGTERM);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::ifstream logf(std::string(dir) + "/log");
    const std::string log((std::istreambuf_iterator<char>(logf)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << log;

    ASSERT_FALSE(after.empty()) << sources.dump();
    EXPECT_GE(after.value("reach", 0u), before.value("reach", 0u)) << after.dump();
    // Selected, or a candidate until the next selection (the removed source
    // may have been the one selected).
    EXPECT_TRUE(after["state"] == "selected" || after["state"] == "candidate") << after.dump();
    EXPECT_TRUE(source_named(sources, "127.0.0.3").empty()) << sources.dump();
    EXPECT_FALSE(source_named(sources, "127.0.0.4").empty()) << sources.dump();
    EXPECT_TRUE(st.value("synchronized", false)) << st.dump();
    EXPECT_GE(st.value("discipline", json::object()).value("updates", 0u), updates) << st.dump();
    EXPECT_NE(log.find("sources reconciled: 1 kept, 1 removed, 1 added"), std::string::npos) << log;
    int status = 0;
    run_capture(std::string("rm -rf ") + dir, &status);
}

// nanotimectl burst, offline, online, minpoll and maxpoll against the real
// daemon: each reply says what was done, a bad argument changes nothing,
// and sources/activity show the result.
TEST_P(DaemonEndToEnd, SourceCommandsChangeTheSourceAndSayWhat) {
    Responder server(0x7f000002);
    char dir[] = "/tmp/nanotimed-manage-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string sock = std::string(dir) + "/ctl.sock";
    const std::string conf = std::string(dir) + "/nanotimed.toml";
    std::ofstream(conf) << "[[source]]\nserver = \"127.0.0.2\"\nport = " << server.port()
                        << "\nminpoll = 3\nmaxpoll = 6\niburst = false\n\n"
                        << "[clock]\nadjust = false\ndrift_file = \"\"\nleap_seconds_file = \""
                        << dir << "/leap.list\"\n\n[control]\nsocket = \"" << sock
                        << "\"\n\n[io]\nbackend = \"" << GetParam() << "\"\n\n[log]\nfile = \""
                        << dir << "/log\"\n\n[service]\nuser = "
                        << "\"\"\nseccomp = \"" << kSeccomp << "\"\n";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl(NANOTIMED_PATH, "nanotimed", "-c", conf.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    struct Reaper {
        pid_t pid;
        ~Reaper() {
            if (kill(pid, SIGKILL) == 0) waitpid(pid, nullptr, 0);
        }
    } reaper{pid};
    // The first poll comes within a second of the start.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline && server.answered() < 1)
        std::this_thread::sleep_for(50ms);
    ASSERT_GE(server.answered(), 1);
    const std::string ctl = std::string(NANOTIMECTL_PATH) + " -s " + sock + " ";
    int status = 0;

    std::string out = run_capture(ctl + "offline 127.0.0.2 2>&1", &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("1 source(s) offline"), std::string::npos) << out;
    EXPECT_EQ(source_named(control_data(sock, "sources"), "127.0.0.2")["state"], "offline");
    EXPECT_EQ(control_data(sock, "activity")["offline"], 1);

    // A burst on an offline source: 4 requests 2 s apart, then offline again.
    const int before_burst = server.answered();
    out = run_capture(ctl + "-j burst 2>&1", &status);
    EXPECT_EQ(status, 0) << out;
    const json burst = json::parse(out, nullptr, false);
    EXPECT_EQ(burst.value("sources", json::array()), json::array({"127.0.0.2 (127.0.0.2)"})) << out;
    EXPECT_EQ(control_data(sock, "activity")["burst_offline"], 1);
    const auto burst_deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < burst_deadline &&
           server.answered() < before_burst + 2)
        std::this_thread::sleep_for(50ms);
    EXPECT_GE(server.answered(), before_burst + 2) << "two requests of the burst within 2 s";

    // Refused, changing nothing, with the reason.
    out = run_capture(ctl + "minpoll 127.0.0.2 7 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("minpoll 7 is above 127.0.0.2 (127.0.0.2)'s maxpoll 6"), std::string::npos)
        << out;
    out = run_capture(ctl + "maxpoll 127.0.0.2 18 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("maxpoll 18 is outside 3..17"), std::string::npos) << out;
    out = run_capture(ctl + "burst ntp.invalid 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("no NTP source \"ntp.invalid\""), std::string::npos) << out;

    // minpoll 5: the poll moves up to it.
    out = run_capture(ctl + "minpoll 127.0.0.2 5 2>&1", &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("minpoll 5 on 1 source(s)"), std::string::npos) << out;
    EXPECT_EQ(source_named(control_data(sock, "sources"), "127.0.0.2")["poll"], 5);

    out = run_capture(ctl + "online 2>&1", &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(source_named(control_data(sock, "sources"), "127.0.0.2")["state"], "offline");

    // leapfile: a damaged file is refused with the parser's reason and
    // writes nothing; a good one is written and loaded.
    const std::string leap = std::string(dir) + "/leap.list";
    std::ofstream(std::string(dir) + "/damaged") << nanotime::daemon::test::leap_file(true);
    std::ofstream(std::string(dir) + "/good") << nanotime::daemon::test::leap_file(false);
    out = run_capture(ctl + "leapfile " + dir + "/damaged 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("leap seconds file refused: "), std::string::npos) << out;
    EXPECT_NE(access(leap.c_str(), F_OK), 0);
    out = run_capture(ctl + "leapfile " + dir + "/good 2>&1", &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find(leap + ": "), std::string::npos) << out;
    std::ifstream installed(leap);
    EXPECT_EQ(
        std::string((std::istreambuf_iterator<char>(installed)), std::istreambuf_iterator<char>()),
        nanotime::daemon::test::leap_file(false));
    EXPECT_EQ(control_data(sock, "status").value("leap_file", std::string()), leap);

    kill(pid, SIGTERM);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::ifstream logf(std::string(dir) + "/log");
    const std::string log((std::istreambuf_iterator<char>(logf)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << log;
    EXPECT_NE(log.find("minpoll by uid " + std::to_string(getuid()) + ": minpoll 5 on 1 source(s)"),
              std::string::npos)
        << log;
    run_capture(std::string("rm -rf ") + dir, &status);
}

// nanotimectl add / delete against the real daemon: an added source runs
// at once, is kept in [control] sources_file through a reload and a
// restart, a bad one is refused changing nothing; delete says where a
// source came from, and a deleted configured source comes back at reload.
TEST_P(DaemonEndToEnd, AddedSourcesRunAndSurviveRestartsAndDeleteSaysWhere) {
    Responder configured(0x7f000002), added(0x7f000003);
    char dir[] = "/tmp/nanotimed-add-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string sock = std::string(dir) + "/ctl.sock";
    const std::string conf = std::string(dir) + "/nanotimed.toml";
    const std::string kept = std::string(dir) + "/sources.toml";
    std::ofstream(conf) << "[[source]]\nserver = \"127.0.0.2\"\nport = " << configured.port()
                        << "\nminpoll = 3\nmaxpoll = 4\n\n"
                        << "[clock]\nadjust = false\ndrift_file = \"\"\n\n[control]\nsocket = \""
                        << sock << "\"\nsources_file = \"" << kept << "\"\n\n[io]\nbackend = \""
                        << GetParam() << "\"\n\n[log]\nfile = \"" << dir
                        << "/log\"\n\n[service]\nuser = \"\"\nseccomp = \"" << kSeccomp << "\"\n";
    pid_t pid = -1;
    struct Reaper {
        pid_t* pid;
        ~Reaper() {
            if (*pid > 0 && kill(*pid, SIGKILL) == 0) waitpid(*pid, nullptr, 0);
        }
    } reaper{&pid};
    const auto start = [&] {
        pid = fork();
        if (pid == 0) {
            execl(NANOTIMED_PATH, "nanotimed", "-c", conf.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        const auto up = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < up && control_data(sock, "status").empty())
            std::this_thread::sleep_for(50ms);
    };
    const auto stop = [&] {
        kill(pid, SIGTERM);
        int wstatus = 0;
        waitpid(pid, &wstatus, 0);
        pid = -1;
        return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    };
    const auto file_text = [](const std::string& path) {
        std::ifstream in(path);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    const auto wait_for = [](const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline && !done())
            std::this_thread::sleep_for(50ms);
        return done();
    };
    const auto has_source = [&](const char* name) {
        return !source_named(control_data(sock, "sources"), name).empty();
    };
    start();
    ASSERT_GT(pid, 0);
    const std::string ctl = std::string(NANOTIMECTL_PATH) + " -s " + sock + " ";
    int status = 0;

    std::string out =
        run_capture(ctl + "add server 127.0.0.3 port " + std::to_string(added.port()) +
                        " minpoll 3 maxpoll 4 iburst 2>&1",
                    &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("added server 127.0.0.3, kept in " + kept), std::string::npos) << out;
    EXPECT_TRUE(wait_for([&] { return added.answered() >= 1; })) << "the added source polls";
    EXPECT_TRUE(has_source("127.0.0.3"));
    const std::string saved = file_text(kept);
    EXPECT_NE(saved.find("server = '127.0.0.3'"), std::string::npos) << saved;
    EXPECT_NE(saved.find("iburst = true"), std::string::npos) << saved;

    // Refused, changing nothing: the same source again, an unknown option
    // (nanotimectl), a value out of range (the daemon, as for its config).
    out = run_capture(ctl + "add server 127.0.0.3 port " + std::to_string(added.port()) +
                          " minpoll 3 maxpoll 4 iburst 2>&1",
                      &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("127.0.0.3 with these settings is a source already"), std::string::npos)
        << out;
    out = run_capture(ctl + "add server 127.0.0.4 minpol 3 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 2) << out;
    EXPECT_NE(out.find("unknown option \"minpol\""), std::string::npos) << out;
    out = run_capture(ctl + "add server 127.0.0.4 minpoll 2 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("add:3:"), std::string::npos) << out;
    EXPECT_NE(out.find("minpoll"), std::string::npos) << out;
    EXPECT_EQ(file_text(kept), saved);
    EXPECT_FALSE(has_source("127.0.0.4"));

    // A reload keeps it (the file is read after the configuration)...
    kill(pid, SIGHUP);
    EXPECT_TRUE(wait_for([&] {
        return file_text(std::string(dir) + "/log").find("sources reconciled: 2 kept") !=
               std::string::npos;
    })) << file_text(std::string(dir) + "/log");
    EXPECT_TRUE(has_source("127.0.0.3"));
    // ... and so does a restart.
    EXPECT_TRUE(stop());
    const int answered = added.answered();
    start();
    EXPECT_TRUE(has_source("127.0.0.3"));
    EXPECT_TRUE(wait_for([&] { return added.answered() > answered; }));

    // delete: where each came from.
    out = run_capture(ctl + "delete 127.0.0.2 2>&1", &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("127.0.0.2: configured in " + conf + ":1, back at the next reload"),
              std::string::npos)
        << out;
    EXPECT_FALSE(has_source("127.0.0.2"));
    out = run_capture(ctl + "delete 127.0.0.3 2>&1", &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_NE(out.find("127.0.0.3: added at run time, removed from " + kept), std::string::npos)
        << out;
    EXPECT_FALSE(has_source("127.0.0.3"));
    EXPECT_EQ(file_text(kept).find("127.0.0.3"), std::string::npos) << file_text(kept);
    out = run_capture(ctl + "delete 127.0.0.9 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("no configured source \"127.0.0.9\""), std::string::npos) << out;

    // The configuration's source is back at the reload; the deleted one is not.
    kill(pid, SIGHUP);
    EXPECT_TRUE(wait_for([&] { return has_source("127.0.0.2"); }));
    EXPECT_FALSE(has_source("127.0.0.3"));

    // A damaged file is not used, and add refuses to overwrite it.
    std::ofstream(kept) << "[[source]]\nserver = \"127.0.0.5\"\nminpoll = 99\n";
    kill(pid, SIGHUP);
    EXPECT_TRUE(wait_for([&] {
        return file_text(std::string(dir) + "/log").find(kept + ":3:") != std::string::npos;
    })) << file_text(std::string(dir) + "/log");
    out = run_capture(ctl + "add server 127.0.0.6 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find("the run-time sources file has errors"), std::string::npos) << out;
    EXPECT_FALSE(has_source("127.0.0.5"));
    EXPECT_NE(file_text(kept).find("minpoll = 99"), std::string::npos);

    const std::string log = file_text(std::string(dir) + "/log");
    EXPECT_TRUE(stop()) << log;
    EXPECT_NE(log.find("add by uid " + std::to_string(getuid()) + ": added server 127.0.0.3"),
              std::string::npos)
        << log;
    run_capture(std::string("rm -rf ") + dir, &status);
}

// Whether process @pid maps a file whose path contains @name.
bool maps_file(pid_t pid, const std::string& name) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::string line;
    while (std::getline(maps, line))
        if (line.find(name) != std::string::npos) return true;
    return false;
}

// A plain client (no server, no NTS) never loads libssl or libcrypto:
// merely mapping them cost 1.7 MiB of resident set
// (nanotimed/openssl_on_demand.hpp). A reload that adds an NTS source
// loads them then, under the seccomp filter, and the daemon runs on and
// stops cleanly.
TEST_P(DaemonEndToEnd, PlainClientNeverLoadsOpenSslUntilAReloadAddsNts) {
    Responder upstream;
    char dir[] = "/tmp/nanotimed-nossl-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string sock = std::string(dir) + "/ctl.sock";
    const std::string conf = std::string(dir) + "/nanotimed.toml";
    const auto write_config = [&](const std::string& more_sources) {
        std::ofstream(conf) << "[[source]]\nserver = \"127.0.0.1\"\nport = " << upstream.port()
                            << "\nminpoll = 3\nmaxpoll = 4\niburst = true\n\n"
                            << more_sources << "[clock]\nadjust = false\ndrift_file = \"\"\n\n"
                            << "[control]\nsocket = \"" << sock << "\"\n\n"
                            << "[io]\nbackend = \"" << GetParam() << "\"\n\n"
                            << "[log]\nlevel = \"debug\"\nfile = \"" << dir << "/log\"\n\n"
                            << "[service]\nuser = \"\"\nseccomp = \"" << kSeccomp << "\"\n";
    };
    write_config("");
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl(NANOTIMED_PATH, "nanotimed", "-c", conf.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    json st;
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (std::chrono::steady_clock::now() < deadline) {
        std::string err;
        if (auto r = nanotime::ctl::request(sock, R"({"command":"status"})", &err, 1000)) {
            st = json::parse(*r)["data"];
            if (st.value("synchronized", false)) break;
        }
        std::this_thread::sleep_for(200ms);
    }
    EXPECT_TRUE(st.value("synchronized", false)) << st.dump();
    EXPECT_FALSE(maps_file(pid, "libcrypto.so"));
    EXPECT_FALSE(maps_file(pid, "libssl.so"));

    // An NTS source whose NTS-KE port nothing listens on: its TLS context
    // is made (OpenSSL loaded) before the connection is refused.
    write_config("[[source]]\nserver = \"127.0.0.1\"\nnts = true\nnts_port = 9\n\n");
    kill(pid, SIGHUP);
    const auto loaded_by = std::chrono::steady_clock::now() + 10s;
    while (!maps_file(pid, "libssl.so") && std::chrono::steady_clock::now() < loaded_by)
        std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(maps_file(pid, "libssl.so"));
    EXPECT_TRUE(maps_file(pid, "libcrypto.so"));
    std::this_thread::sleep_for(300ms);
    kill(pid, SIGTERM);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::ifstream logf(std::string(dir) + "/log");
    const std::string log((std::istreambuf_iterator<char>(logf)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "status " << wstatus << "\n"
                                                                 << log;
    EXPECT_NE(log.find("reloaded: 2 sources"), std::string::npos) << log;
    int status = 0;
    run_capture(std::string("rm -rf ") + dir, &status);
}

// How much a flood may grow the daemon's resident set. 1 MiB as built for
// use; AddressSanitizer's allocator and shadow memory add about as much
// again for the few hundred requests served (0.9-1.2 MiB seen), so a
// sanitized build gets 2 MiB. Without the limits the growth is ~100 MiB.
#ifdef NANOTIME_SANITIZED
constexpr long kRssSlackKib = 2048;
#else
constexpr long kRssSlackKib = 1024;
#endif

// The resident set of process @pid, in KiB (VmRSS); -1 if unknown.
long rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

// A local client that pipelines 100 000 status requests on the control
// socket (open to every user) and never reads a reply. Before the limits
// nanotimed read them all and queued every reply (one client grew it by
// 160 MB in 15 s); now it answers one request at a time and stops reading
// while a reply waits, so its memory stays put (within 1 MiB), and it keeps
// answering other clients meanwhile.
TEST_P(DaemonEndToEnd, ControlClientThatNeverReadsCannotGrowTheDaemon) {
    char dir[] = "/tmp/nanotimed-flood-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string sock = std::string(dir) + "/ctl.sock";
    const std::string conf = std::string(dir) + "/nanotimed.toml";
    std::ofstream(conf) << "[clock]\nadjust = false\ndrift_file = \"\"\n\n"
                        << "[control]\nsocket = \"" << sock << "\"\n\n"
                        << "[io]\nbackend = \"" << GetParam() << "\"\n\n"
                        << "[log]\nlevel = \"info\"\nfile = \"" << dir << "/log\"\n\n"
                        << "[service]\nuser = \"\"\nseccomp = \"" << kSeccomp << "\"\n";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
#ifdef NANOTIME_SANITIZED
        // AddressSanitizer holds freed memory back (its quarantine, up to
        // 256 MB) to catch use-after-free: every request would then add to
        // the resident set whatever the daemon does. Off for this measurement.
        const char* asan = getenv("ASAN_OPTIONS");
        const std::string options = std::string(asan != nullptr ? asan : "") +
                                    ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0";
        setenv("ASAN_OPTIONS", options.c_str(), 1);
#endif
        execl(NANOTIMED_PATH, "nanotimed", "-c", conf.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Up, and warm: the first replies size the allocator's pools.
    int answered = 0;
    const auto up_by = std::chrono::steady_clock::now() + 20s;
    while (answered < 200 && std::chrono::steady_clock::now() < up_by) {
        std::string err;
        if (nanotime::ctl::request(sock, R"({"command":"status"})", &err, 1000)) {
            ++answered;
        } else {
            std::this_thread::sleep_for(50ms);
        }
    }
    ASSERT_EQ(answered, 200);
    const long before = rss_kib(pid);
    ASSERT_GT(before, 0);

    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    std::atomic<bool> flooding{true};
    std::atomic<size_t> sent_requests{0};
    std::thread flooder([&] {
        const std::vector<uint8_t> one = nanotime::ctl::encode_frame(R"({"command":"status"})");
        std::vector<uint8_t> all;
        for (int i = 0; i < 100'000; ++i) all.insert(all.end(), one.begin(), one.end());
        size_t sent = 0;
        auto last_progress = std::chrono::steady_clock::now();
        // Until all is sent, or the daemon has taken nothing for a second.
        while (sent < all.size() && std::chrono::steady_clock::now() - last_progress < 1s) {
            const ssize_t n =
                send(fd, all.data() + sent, all.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<size_t>(n);
                last_progress = std::chrono::steady_clock::now();
            } else if (n < 0 && errno != EAGAIN) {
                break;
            } else {
                pollfd p{fd, POLLOUT, 0};
                poll(&p, 1, 20);
            }
        }
        sent_requests = sent / one.size();
        flooding = false;
    });
    // Meanwhile: other clients are answered, and the daemon's size is watched.
    long peak = before;
    int others = 0;
    int others_failed = 0;
    while (flooding) {
        std::string err;
        if (nanotime::ctl::request(sock, R"({"command":"status"})", &err, 2000)) {
            ++others;
        } else {
            ++others_failed;
        }
        peak = std::max(peak, rss_kib(pid));
        std::this_thread::sleep_for(50ms);
    }
    flooder.join();
    std::this_thread::sleep_for(500ms);
    const long after = rss_kib(pid);
    peak = std::max(peak, after);
    std::printf(
        "control flood (%s): %zu requests sent, not read; RSS %ld KiB before, "
        "%ld KiB peak, %ld KiB after; %d other requests answered, %d not\n",
        GetParam().c_str(), sent_requests.load(), before, peak, after, others, others_failed);
    EXPECT_LE(peak - before, kRssSlackKib) << "KiB of growth";
    EXPECT_GT(others, 0);
    EXPECT_EQ(others_failed, 0);
    close(fd);

    kill(pid, SIGTERM);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
    int status = 0;
    run_capture(std::string("rm -rf ") + dir, &status);
}

// Under systemd (Type=notify, WatchdogSec=): READY=1 once started,
// WATCHDOG=1 every half interval for as long as the daemon runs (the timer
// that re-arms itself must outlive start-up), STOPPING=1 on SIGTERM.
TEST_P(DaemonEndToEnd, ServiceManagerHearsReadyThenWatchdogUntilStopping) {
    char tmpl[] = "/tmp/nanotimed-notify-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    const std::string conf = dir + "/nanotimed.toml";
    const std::string notify = dir + "/notify";
    std::ofstream(conf) << "[clock]\nadjust = false\ndrift_file = \"\"\n\n"
                        << "[control]\nsocket = \"\"\n\n"
                        << "[io]\nbackend = \"" << GetParam() << "\"\n\n"
                        << "[service]\nuser = \"\"\nseccomp = \"" << kSeccomp << "\"\n";
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, notify.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        setenv("NOTIFY_SOCKET", notify.c_str(), 1);
        setenv("WATCHDOG_USEC", "200000", 1);  // a ping every 100 ms
        execl(NANOTIMED_PATH, "nanotimed", "-c", conf.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Datagrams until @done or 10 s.
    std::vector<std::string> got;
    const auto receive_until = [&](const auto& done) {
        const auto by = std::chrono::steady_clock::now() + 10s;
        while (!done() && std::chrono::steady_clock::now() < by) {
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 100) != 1) continue;
            char buf[512];
            const ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0) got.emplace_back(buf, static_cast<size_t>(n));
        }
    };
    size_t ready_at = 0;
    const auto pings_after_ready = [&] {
        size_t pings = 0;
        for (size_t i = ready_at; ready_at > 0 && i < got.size(); ++i)
            pings += got[i] == "WATCHDOG=1";
        return pings;
    };
    receive_until([&] {
        for (size_t i = 0; i < got.size() && ready_at == 0; ++i) {
            if (got[i].rfind("READY=1\nSTATUS=", 0) == 0) ready_at = i + 1;
        }
        return pings_after_ready() >= 5;
    });
    EXPECT_GT(ready_at, 0U) << "no READY=1";
    EXPECT_GE(pings_after_ready(), 5U);
    EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "the daemon died";
    kill(pid, SIGTERM);
    receive_until([&] { return !got.empty() && got.back() == "STOPPING=1"; });
    EXPECT_EQ(got.back(), "STOPPING=1");
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    close(fd);
    int rm = 0;
    run_capture("rm -rf " + dir, &rm);
}

// --check-config and start-up read listen addresses with the same parser:
// an address inet_pton refuses (leading zeros, short forms) is refused by
// both with file:line and the reason, and start-up never gets to the loop.
TEST(DaemonConfigCheck, CheckAndStartUpRejectTheSameListenAddresses) {
    char tmpl[] = "/tmp/nanotimed-check-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    const std::string conf = dir + "/nanotimed.toml";
    for (const char* address : {"010.0.0.1:123", "127.1:123", "0x7f.0.0.1:123", "1.2.3.4.5"}) {
        std::ofstream(conf) << "[server]\nlisten = [\"" << address
                            << "\"]\nallow = [\"127.0.0.0/8\"]\n\n"
                            << "[control]\nsocket = \"" << dir << "/sock\"\n\n"
                            << "[service]\nuser = \"\"\nseccomp = \"off\"\n";
        const std::string expected = conf + ":2:11: server.listen: '" + address +
                                     "' is not an IP address with an optional :port";
        int status = 0;
        const std::string check = run_capture(
            std::string(NANOTIMED_PATH) + " --check-config -c " + conf + " 2>&1", &status);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << address << ": " << check;
        EXPECT_NE(check.find(expected), std::string::npos) << check;
        const std::string start =
            run_capture(std::string(NANOTIMED_PATH) + " -c " + conf + " 2>&1", &status);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << address << ": " << start;
        EXPECT_NE(start.find(expected), std::string::npos) << start;
    }
    int status = 0;
    run_capture("rm -rf " + dir, &status);
}

// gpsd's chrony SOCK datagram (daemon/refclock/sock_sample.hpp), written
// here as gpsd writes it.
struct GpsdSockSample {
    timeval tv;
    double offset;
    int pulse;
    int leap;
    int pad;
    int magic;
};

// Runs nanotimed with @refclocks (TOML) and a server on @serve_port; returns
// its pid. @dir holds the config, the control socket and the log.
// @server_extra: more TOML after [server]'s keys (its own keys, then tables).
pid_t start_with_refclocks(const std::string& dir, const std::string& refclocks, int serve_port,
                           const std::string& backend, const std::string& server_extra = "") {
    const std::string conf = dir + "/nanotimed.toml";
    std::ofstream(conf) << refclocks << "\n[server]\nlisten = [\"127.0.0.1:" << serve_port
                        << "\"]\nallow = [\"127.0.0.0/8\"]\n"
                        << server_extra << "\n"
                        << "[clock]\nadjust = false\ndrift_file = \"\"\n\n"
                        << "[control]\nsocket = \"" << dir << "/ctl.sock\"\n\n"
                        << "[io]\nbackend = \"" << backend << "\"\n\n"
                        << "[log]\nlevel = \"debug\"\nfile = \"" << dir << "/log\"\n\n"
                        << "[service]\nuser = \"\"\nseccomp = \"" << kSeccomp << "\"\n";
    const pid_t pid = fork();
    if (pid == 0) {
        execl(NANOTIMED_PATH, "nanotimed", "-c", conf.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    return pid;
}

// One NTP request to the daemon's server; the 48-byte reply (empty if none).
std::vector<uint8_t> ask_server(int port) {
    const int c = socket(AF_INET, SOCK_DGRAM, 0);
    timeval tv{2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uint8_t req[48] = {0x23};
    put64(req + 40, 0x0102030405060708ULL);
    sendto(c, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    std::vector<uint8_t> reply(64);
    const ssize_t n = recv(c, reply.data(), reply.size(), 0);
    close(c);
    reply.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return reply;
}

// Stops the daemon; its exit status and log.
std::pair<int, std::string> stop_daemon(pid_t pid, const std::string& dir) {
    kill(pid, SIGTERM);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    std::ifstream logf(dir + "/log");
    return {wstatus,
            std::string((std::istreambuf_iterator<char>(logf)), std::istreambuf_iterator<char>())};
}

// Polls `status` until synchronised or @limit passes.
json wait_synchronised(const std::string& ctl_sock, std::chrono::seconds limit) {
    json st;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        std::string err;
        if (auto r = nanotime::ctl::request(ctl_sock, R"({"command":"status"})", &err, 1000)) {
            st = json::parse(*r)["data"];
            if (st.value("synchronized", false)) break;
        }
        std::this_thread::sleep_for(200ms);
    }
    return st;
}

// gpsd's SOCK protocol into a [[refclock]] sock: bad datagrams are refused
// and named, good ones make nanotimed a stratum-1 server with refid GPS.
TEST_P(DaemonEndToEnd, SockRefclockServesStratumOne) {
    char dir_template[] = "/tmp/nanotimed-ref-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    const std::string gps = dir + "/gps0.sock";
    const int serve_port = 20000 + (getpid() + 7) % 20000;
    const pid_t pid = start_with_refclocks(
        dir, "[[refclock]]\ndriver = \"sock\"\npath = \"" + gps + "\"\nrefid = \"GPS\"\npoll = 0\n",
        serve_port, GetParam());
    ASSERT_GT(pid, 0);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (access(gps.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    struct stat st_sock {};
    ASSERT_EQ(stat(gps.c_str(), &st_sock), 0);
    EXPECT_EQ(st_sock.st_mode & 0777, 0600u);

    const int w = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un to{};
    to.sun_family = AF_UNIX;
    std::strcpy(to.sun_path, gps.c_str());
    auto send_sample = [&](const void* p, size_t n) {
        sendto(w, p, n, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    };
    GpsdSockSample bad{};
    bad.magic = 0x12345678;
    send_sample(&bad, sizeof bad);  // wrong magic
    send_sample(&bad, 17);          // wrong size
    GpsdSockSample pulse{};
    gettimeofday(&pulse.tv, nullptr);
    pulse.pulse = 1;
    pulse.magic = 0x534f434b;
    send_sample(&pulse, sizeof pulse);  // a PPS edge with nothing numbering it

    // Good samples, four a second, as a GPS receiver that agrees with the
    // system clock would give them.
    std::atomic<bool> feeding{true};
    std::thread feeder([&] {
        while (feeding) {
            GpsdSockSample s{};
            gettimeofday(&s.tv, nullptr);
            s.magic = 0x534f434b;
            send_sample(&s, sizeof s);
            std::this_thread::sleep_for(250ms);
        }
    });
    const std::string ctl_sock = dir + "/ctl.sock";
    const json st = wait_synchronised(ctl_sock, 40s);
    EXPECT_TRUE(st.value("synchronized", false)) << st.dump();
    EXPECT_EQ(st["stratum"], 1);
    EXPECT_EQ(st["reference_id"], "GPS");

    int status = 0;
    const std::string ctl = std::string(NANOTIMECTL_PATH) + " -s " + ctl_sock;
    const json sources = json::parse(run_capture(ctl + " --json sources", &status));
    ASSERT_EQ(sources["sources"].size(), 1u);
    const json& ref = sources["sources"][0];
    EXPECT_EQ(ref["name"], "GPS");
    EXPECT_EQ(ref["kind"], "sock");
    EXPECT_EQ(ref["address"], gps);
    EXPECT_EQ(ref["state"], "selected");
    EXPECT_EQ(ref["stratum"], 0);
    EXPECT_EQ(ref["rejected"], 3);
    EXPECT_GE(ref["samples"].get<int>(), 4);
    EXPECT_EQ(ref["last_error"],
              "pulse without second numbering: a PPS edge (SOCK pulses are not numbered; use "
              "driver \"pps\")");
    const std::string table = run_capture(ctl + " sources", &status);
    EXPECT_NE(table.find("* GPS"), std::string::npos) << table;
    EXPECT_NE(table.find("refclock GPS (sock " + gps + "): "), std::string::npos) << table;

    const std::vector<uint8_t> reply = ask_server(serve_port);
    ASSERT_EQ(reply.size(), 48u);
    EXPECT_EQ(reply[1], 1);                                    // stratum 1
    EXPECT_EQ(std::memcmp(reply.data() + 12, "GPS\0", 4), 0);  // its refid
    EXPECT_EQ(reply[0] >> 6, 0);                               // LI: synchronised
    feeding = false;
    feeder.join();
    close(w);
    const auto [wstatus, log] = stop_daemon(pid, dir);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << log;
    EXPECT_EQ(access(gps.c_str(), F_OK), -1);  // the socket file is removed at exit
    run_capture("rm -rf " + dir, &status);
}

// Devices that are not what the refclock driver reads: a phc and a pps
// refclock on /dev/null are shown with their driver and path, no reading,
// and the reason as their last error (the host has no /dev/ptpN or
// /dev/ppsN; the VM tests read real ones).
TEST(DaemonRefclockStatus, DevicesThatAreNoPhcOrPpsAreShownUnavailableWithTheirPath) {
    char dir_template[] = "/tmp/nanotimed-phc-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    const int serve_port = 20000 + (getpid() + 11) % 20000;
    const pid_t pid = start_with_refclocks(dir,
                                           "[[refclock]]\ndriver = \"phc\"\npath = \"/dev/null\"\n"
                                           "refid = \"NIC\"\npoll = 0\n\n"
                                           "[[refclock]]\ndriver = \"pps\"\npath = \"/dev/null\"\n",
                                           serve_port, "poll");
    ASSERT_GT(pid, 0);
    const std::string ctl =
        std::string(NANOTIMECTL_PATH) + " -s " + dir + "/ctl.sock --json sources 2>/dev/null";
    json sources;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        const std::string out = run_capture(ctl, &status);
        if (status == 0) {
            sources = json::parse(out)["sources"];
            if (sources.size() == 2 && !sources[0]["last_error"].get<std::string>().empty() &&
                !sources[1]["last_error"].get<std::string>().empty())
                break;
        }
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(sources.size(), 2u) << sources.dump();
    const json& phc = sources[0];
    EXPECT_EQ(phc["name"], "NIC");
    EXPECT_EQ(phc["kind"], "phc");
    EXPECT_EQ(phc["address"], "/dev/null");
    EXPECT_EQ(phc["samples"], 0);
    EXPECT_EQ(phc["reach"], 0);
    EXPECT_EQ(phc["last_error"],
              "unavailable: /dev/null: not a PTP hardware clock (PTP_CLOCK_GETCAPS: "
              "Inappropriate ioctl for device)");
    const json& pps = sources[1];
    EXPECT_EQ(pps["name"], "PPS");
    EXPECT_EQ(pps["kind"], "pps");
    EXPECT_EQ(pps["address"], "/dev/null");  // was "unit 0" before phc came
    EXPECT_NE(pps["last_error"].get<std::string>().find("not a PPS device"), std::string::npos)
        << pps.dump();
    const auto [wstatus, log] = stop_daemon(pid, dir);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << log;
    int status = 0;
    run_capture("rm -rf " + dir, &status);
}

// One request from @fd (bound to the client address) to the server on
// @port; the reply, empty if none came within @wait_ms.
std::vector<uint8_t> exchange_from(int fd, int port, int wait_ms) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uint8_t req[48] = {0x23};
    put64(req + 40, ntp_now());
    sendto(fd, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    std::vector<uint8_t> reply(64);
    pollfd p{fd, POLLIN, 0};
    const ssize_t n = poll(&p, 1, wait_ms) == 1 ? recv(fd, reply.data(), reply.size(), 0) : -1;
    reply.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return reply;
}

// A UDP socket bound to the loopback address @host (host order).
int socket_from(uint32_t host) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(host);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
}

// nanotimectl clients (chronyc clients) from the server's rate-limit tables,
// with two server threads: 127.0.0.1 asks 3 times from 3 source ports
// (spread over the threads, a row adding them up), 127.0.0.2 7 times from
// one (one thread): 4 answered (burst 4, no refill within the test), then
// one RATE kiss-o'-death, then 2 dropped.
TEST_P(DaemonEndToEnd, ClientsCountsEachClientsRequestsDropsAndKod) {
    std::string dir = "/tmp/nanotimed-clients-XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    const int serve_port = 20000 + (getpid() + 7) % 20000;
    const pid_t pid = start_with_refclocks(
        dir, "", serve_port, GetParam(),
        "workers = 2\n\n[server.rate_limit]\nburst = 4\ninterval = 600\nkod_interval = 600\n");
    ASSERT_GT(pid, 0);
    const std::string sock = dir + "/ctl.sock";
    const auto up = std::chrono::steady_clock::now() + 20s;
    while (control_data(sock, "status").empty() && std::chrono::steady_clock::now() < up)
        std::this_thread::sleep_for(100ms);

    for (int i = 0; i < 3; ++i) {
        const int fd = socket_from(INADDR_LOOPBACK);
        EXPECT_EQ(exchange_from(fd, serve_port, 2000).size(), 48u) << i;
        close(fd);
    }
    const int flooder = socket_from(0x7f000002);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(exchange_from(flooder, serve_port, 2000).size(), 48u);
    const std::vector<uint8_t> kod = exchange_from(flooder, serve_port, 2000);
    ASSERT_EQ(kod.size(), 48u);
    EXPECT_EQ(kod[1], 0);  // stratum 0: a kiss-o'-death
    EXPECT_EQ(std::memcmp(kod.data() + 12, "RATE", 4), 0);
    for (int i = 0; i < 2; ++i) EXPECT_TRUE(exchange_from(flooder, serve_port, 300).empty());
    close(flooder);

    // The worker publishes its table within a second of its last request.
    const std::string ctl = std::string(NANOTIMECTL_PATH) + " -s " + sock;
    int status = 0;
    json view;
    const auto row = [&](const char* address) {
        for (const json& c : view.value("clients", json::array()))
            if (c["address"] == address) return c;
        return json::object();
    };
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    do {
        std::this_thread::sleep_for(200ms);
        view = json::parse(run_capture(ctl + " --json clients", &status), nullptr, false);
    } while ((row("127.0.0.1").value("ntp_requests", 0) != 3 ||
              row("127.0.0.2").value("ntp_requests", 0) != 7) &&
             std::chrono::steady_clock::now() < deadline);
    ASSERT_EQ(status, 0);
    ASSERT_EQ(view["clients"].size(), 2u) << view.dump();
    EXPECT_TRUE(view["ntp"]);
    EXPECT_TRUE(view["rate_limit"]);
    EXPECT_FALSE(view["truncated"]);
    EXPECT_EQ(view["max_rows"], 1024);
    EXPECT_GE(view["tracked"], 2);  // 127.0.0.1 may be in both threads' tables
    EXPECT_LE(view["tracked"], 3);
    const json local = row("127.0.0.1");
    EXPECT_EQ(local["ntp_requests"], 3) << view.dump();
    EXPECT_EQ(local["ntp_drops"], 0);
    EXPECT_EQ(local["ntp_kod"], 0);
    EXPECT_EQ(local["nts_requests"], 0);
    const json flood = row("127.0.0.2");
    EXPECT_EQ(flood["ntp_requests"], 7) << view.dump();
    EXPECT_EQ(flood["ntp_drops"], 2);
    EXPECT_EQ(flood["ntp_kod"], 1);
    EXPECT_EQ(flood["ntp_interleaved"], 0);
    EXPECT_LT(flood["last_seen_ago_s"].get<double>(), 10.0);
    // Most recently seen first.
    EXPECT_EQ(view["clients"][0]["address"], "127.0.0.2");
    // As documented.
    const std::string file = dir + "/clients.json";
    std::ofstream(file) << view.dump();
    const std::string checked =
        run_capture(std::string("/usr/bin/python3 " NANOTIME_SOURCE_DIR
                                "/tests/daemon-io/check_json_schema.py " NANOTIME_SOURCE_DIR
                                "/daemon/nanotimectl/nanotimectl.schema.json --view clients ") +
                        file + " 2>&1",
                    &status);
    EXPECT_EQ(status, 0) << checked;

    // The table: one line per client, the counts in their columns.
    const std::string table = run_capture(ctl + " clients --sort packets", &status);
    EXPECT_EQ(status, 0);
    const size_t flood_line = table.find("127.0.0.2");
    const size_t local_line = table.find("127.0.0.1");
    ASSERT_NE(flood_line, std::string::npos) << table;
    ASSERT_NE(local_line, std::string::npos) << table;
    EXPECT_LT(flood_line, local_line) << table;  // 7 requests before 3
    std::istringstream fields(table.substr(flood_line));
    std::string address;
    uint64_t ntp = 0, drop = 0, kods = 0, nts = 0, intl = 0;
    fields >> address >> ntp >> drop >> kods >> nts >> intl;
    EXPECT_EQ(ntp, 7u) << table;
    EXPECT_EQ(drop, 2u) << table;
    EXPECT_EQ(kods, 1u) << table;
    // -p: only clients with at least that many requests.
    const json busy = json::parse(run_capture(ctl + " --json clients -p 5", &status));
    ASSERT_EQ(busy["clients"].size(), 1u) << busy.dump();
    EXPECT_EQ(busy["clients"][0]["address"], "127.0.0.2");

    // -r: refused to a user without privilege (the socket is 0666; its
    // directory opened for the test), nothing reset ...
    chmod(dir.c_str(), 0755);
    const std::string refused = run_capture(
        "setpriv --reuid=65534 --regid=65534 --clear-groups " + ctl + " clients -r 2>&1", &status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << refused;
    EXPECT_NE(refused.find("permission denied"), std::string::npos) << refused;
    // ... read as it was, then zeroed, for root.
    const json reset = json::parse(run_capture(ctl + " --json clients -r", &status));
    EXPECT_EQ(status, 0);
    EXPECT_TRUE(reset["reset"]);
    view = reset;
    EXPECT_EQ(row("127.0.0.2")["ntp_requests"], 7) << reset.dump();
    view = json::parse(run_capture(ctl + " --json clients", &status));
    EXPECT_EQ(view["clients"].size(), 2u) << view.dump();
    EXPECT_EQ(row("127.0.0.2")["ntp_requests"], 0) << view.dump();
    EXPECT_EQ(row("127.0.0.2")["ntp_drops"], 0) << view.dump();
    EXPECT_EQ(row("127.0.0.1")["ntp_requests"], 0) << view.dump();

    const auto [wstatus, log] = stop_daemon(pid, dir);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << log;
    run_capture("rm -rf " + dir, &status);
}

INSTANTIATE_TEST_SUITE_P(Backends, DaemonEndToEnd, ::testing::Values("poll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
