// nanotimed's NTS services on loopback: the NTS-KE server (its own thread,
// TLS 1.3) and the NTS-KE client the sources use, with the master keys of
// NtsKeyManager: the cookies a key exchange hands out open at the NTP
// server; a certificate for another name is refused; a re-read certificate
// takes over and a broken one changes nothing; the key file is written
// 0600 and read by a second host; a corrupt copy is refused by name.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "../stream/tls_test_cert.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "nanotimed/nts_ke_client.hpp"
#include "nanotimed/nts_ke_service.hpp"
#include "nanotimed/nts_key_manager.hpp"
#include "nts/nts_server.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kNow = 1'800'000'000;  // Unix seconds, the tests' clock

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/nts-services.XXXXXX";
        path = mkdtemp(tmpl) != nullptr ? tmpl : "";
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string file(const std::string& name) const { return path + "/" + name; }
};

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// A loopback TCP port free a moment ago.
uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

class NtsServices : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_FALSE(dir_.path.empty());
        loop_ = io::make_event_loop(io::LoopOptions{});
        nts_.key_file = dir_.file("nts-keys");
        keys_ =
            std::make_unique<NtsKeyManager>(nts_, *loop_, log_, key_random_, [] { return kNow; });
        keys_->start();
        const auto cert = io::testing::make_test_certificate("localhost");
        write_file(dir_.file("cert.pem"), cert.certificate_pem);
        write_file(dir_.file("key.pem"), cert.private_key_pem);
        ke_.listen = {ntp::SocketAddress{ntp::IpAddress::v4(127, 0, 0, 1), free_port()}};
        ke_.certificate = dir_.file("cert.pem");
        ke_.private_key = dir_.file("key.pem");
        service_ = std::make_unique<NtsKeService>(ke_, io::LoopOptions{}, keys_->shared(),
                                                  service_random_, log_, [] { return kNow; });
        service_->start();
    }

    // One NTS-KE with the service, trusting @ca_pem, for host @name,
    // offering @aeads ([nts] aead_algorithms; default GCM-SIV, then SIV).
    NtsKeOutcome exchange(const std::string& ca_file, const std::string& name = "localhost",
                          std::optional<std::vector<uint16_t>> aeads = std::nullopt,
                          const config::NtsKeServerConfig* ke = nullptr) {
        config::NtsConfig c;
        c.trusted_ca = ca_file;
        if (aeads) c.aead_algorithms = *aeads;
        std::optional<NtsKeOutcome> outcome;
        NtsKeClients clients(c, *loop_, client_random_, [&](uint64_t, NtsKeOutcome o) {
            outcome = std::move(o);
            loop_->stop();
        });
        clients.start(1, (ke != nullptr ? *ke : ke_).listen[0], name, true);
        const uint64_t guard = loop_->add_timer_after(15s, [this] { loop_->stop(); });
        loop_->run();
        loop_->cancel_timer(guard);
        return outcome ? std::move(*outcome) : NtsKeOutcome{std::nullopt, {}, 0, "no outcome"};
    }

    // An NTS request built from @o's keys and cookies authenticates at an
    // NTP server holding the master keys, and its response at the client.
    void round_trip(NtsKeOutcome& o) {
        ntp::SplitMix64 server_random(4);
        auto server = nts::NtsServer::create(keys_->shared().get(), server_random);
        std::array<uint8_t, nts::kNtpHeaderLength> header{};
        header[0] = 0x23;
        std::vector<uint8_t> request(nts::kMaxNtsPacket);
        auto n = o.client->build_request(header, request);
        ASSERT_TRUE(n.has_value());
        request.resize(*n);
        const nts::NtsRequest checked = server->check(request, kNow);
        ASSERT_EQ(checked.verdict, nts::NtsVerdict::Authentic);
        std::array<uint8_t, nts::kNtpHeaderLength> reply_header{};
        reply_header[0] = 0x24;
        std::vector<uint8_t> reply(nts::kMaxNtsPacket);
        auto m = server->respond(checked, reply_header, kNow, reply);
        ASSERT_TRUE(m.has_value());
        reply.resize(*m);
        auto verdict = o.client->check_response(reply);
        ASSERT_TRUE(verdict.has_value()) << nts::to_string(verdict.error());
        EXPECT_EQ(*verdict, nts::ResponseVerdict::Authentic);
    }

    TempDir dir_;
    io::RateLimitedLog log_{io::LogRateConfig{}};
    ntp::SplitMix64 key_random_{1}, service_random_{2}, client_random_{3};
    std::unique_ptr<io::EventLoop> loop_;
    config::NtsConfig nts_;
    config::NtsKeServerConfig ke_;
    std::unique_ptr<NtsKeyManager> keys_;
    std::unique_ptr<NtsKeService> service_;
};

TEST_F(NtsServices, KeyExchangeGivesCookiesThatOpenAtTheNtpServer) {
    NtsKeOutcome o = exchange(dir_.file("cert.pem"));
    ASSERT_TRUE(o.client) << o.error;
    // Both ends' default: AES-128-GCM-SIV, 16-octet keys, 72-octet cookies.
    EXPECT_EQ(o.client->aead(), 30);
    EXPECT_EQ(o.client->jar().front_length(), nts::kMinCookieLength);
    EXPECT_EQ(o.client->jar().size(), nts::kJarCapacity);
    EXPECT_EQ(o.ntp_host, "127.0.0.1") << "no Server record: NTP goes to the KE host";
    EXPECT_EQ(o.ntp_port, 0) << "no Port record";
    EXPECT_EQ(service_->counters().keys_issued, 1u);

    round_trip(o);
}

TEST_F(NtsServices, ClientOfferingOnlyAesSivGetsAesSiv) {
    // [nts] aead_algorithms = ["AES-SIV-CMAC-256"]: what chrony 4.3 and
    // NTPsec 1.2 offer.
    NtsKeOutcome o = exchange(dir_.file("cert.pem"), "localhost", std::vector<uint16_t>{15});
    ASSERT_TRUE(o.client) << o.error;
    EXPECT_EQ(o.client->aead(), 15);
    EXPECT_EQ(o.client->jar().front_length(), nts::kMaxCookieLength);
    round_trip(o);
}

TEST_F(NtsServices, ServerConfiguredForAesSivOnlyAnswersAGcmSivFirstClientWithIt) {
    config::NtsKeServerConfig siv_only = ke_;
    siv_only.listen = {ntp::SocketAddress{ntp::IpAddress::v4(127, 0, 0, 1), free_port()}};
    siv_only.aead_algorithms = {15};
    ntp::SplitMix64 random(9);
    NtsKeService service(siv_only, io::LoopOptions{}, keys_->shared(), random, log_,
                         [] { return kNow; });
    service.start();
    NtsKeOutcome o = exchange(dir_.file("cert.pem"), "localhost", std::nullopt, &siv_only);
    ASSERT_TRUE(o.client) << o.error;
    EXPECT_EQ(o.client->aead(), 15);
    round_trip(o);
    // And a client that offers only GCM-SIV finds nothing in common.
    o = exchange(dir_.file("cert.pem"), "localhost", std::vector<uint16_t>{30}, &siv_only);
    EXPECT_FALSE(o.client);
    EXPECT_NE(o.error.find("no AEAD algorithm in common"), std::string::npos) << o.error;
}

TEST_F(NtsServices, CertificateForAnotherNameIsRefused) {
    NtsKeOutcome o = exchange(dir_.file("cert.pem"), "ntp.example.org");
    EXPECT_FALSE(o.client);
    EXPECT_NE(o.error.find("certificate verify failed"), std::string::npos) << o.error;
    EXPECT_EQ(service_->counters().keys_issued, 0u);
}

TEST_F(NtsServices, ReloadedCertificateTakesOverAndABrokenOneChangesNothing) {
    const auto fresh = io::testing::make_test_certificate("localhost");
    write_file(dir_.file("cert.pem"), fresh.certificate_pem);
    write_file(dir_.file("key.pem"), fresh.private_key_pem);
    write_file(dir_.file("fresh-ca.pem"), fresh.certificate_pem);
    EXPECT_EQ(service_->reload_certificate(), std::nullopt);
    // The KE thread adopts it from its own loop, soon but not at once (a
    // loaded machine): connections from then on use it.
    NtsKeOutcome o = exchange(dir_.file("fresh-ca.pem"));
    for (int tries = 0; !o.client && tries < 50; ++tries) {
        std::this_thread::sleep_for(100ms);
        o = exchange(dir_.file("fresh-ca.pem"));
    }
    ASSERT_TRUE(o.client) << o.error;

    write_file(dir_.file("key.pem"), "-----BEGIN PRIVATE KEY-----\nbroken\n");
    const auto why = service_->reload_certificate();
    ASSERT_TRUE(why.has_value());
    EXPECT_NE(why->find("keeping the certificate in use"), std::string::npos) << *why;
    o = exchange(dir_.file("fresh-ca.pem"));
    EXPECT_TRUE(o.client) << o.error;
    EXPECT_EQ(service_->counters().certificate_reloads, 1u);
}

TEST_F(NtsServices, KeyFileIsPrivateAndReadByAnotherHostAndACorruptOneIsNamed) {
    struct stat st {};
    ASSERT_EQ(stat(nts_.key_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(keys_->status().writer);
    EXPECT_GE(keys_->status().keys, 2u) << "the key in use and the next";

    config::NtsConfig reader = nts_;
    reader.key_rotation = 0;  // NTP on another host, NTS-KE here
    ntp::SplitMix64 random(7);
    NtsKeyManager copy(reader, *loop_, log_, random, [] { return kNow; });
    copy.start();
    ASSERT_TRUE(copy.shared().get());
    EXPECT_FALSE(copy.status().writer);
    EXPECT_EQ(copy.status().sealing_id, keys_->status().sealing_id);
    EXPECT_EQ(copy.shared().get()->keys(), keys_->shared().get()->keys());

    // A half-written copy: refused with the file's name, nothing made up.
    write_file(nts_.key_file, "nanotime-nts-keys 1\nrotation-interval 3600\nkey 0000");
    NtsKeyManager late(reader, *loop_, log_, random, [] { return kNow; });
    late.start();
    EXPECT_FALSE(late.shared().get()) << "nothing usable to start from";
    EXPECT_EQ(late.status().failures, 1u);
    EXPECT_NE(late.status().last_error.find("nts-keys"), std::string::npos)
        << late.status().last_error;
}

}  // namespace
}  // namespace nanotime::daemon
