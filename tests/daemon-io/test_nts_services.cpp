// nanotimed's NTS services on loopback: the NTS-KE server (its own thread,
// TLS 1.3) and the NTS-KE client the sources use, with the master keys of
// NtsKeyManager: the cookies a key exchange hands out open at the NTP
// server; a certificate for another name is refused; a re-read certificate
// takes over and a broken one changes nothing; the key file is written
// 0600 and read by a second host; a corrupt copy is refused by name. As an
// NTS pool's time source: a pool with a certificate from pool_ca and a
// token gets cookies for the keys it sends that open at the NTP server,
// over a Keep Alive session too; without the certificate, with another
// CA's, with a wrong token, or for an AEAD the server does not use it is
// refused and counted; RFC 8915 clients are unaffected.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
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
#include "nts/ke_pool_records.hpp"
#include "nts/nts_client.hpp"
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
        configure(ke_);
        service_ = std::make_unique<NtsKeService>(ke_, io::LoopOptions{}, keys_->shared(),
                                                  service_random_, log_, [] { return kNow; });
        service_->start();
    }

    // A derived fixture's changes to [nts_ke] before the service starts.
    virtual void configure(config::NtsKeServerConfig&) {}

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

using Bytes = std::vector<uint8_t>;

// The pool's end of one TLS session to the NTS-KE service: blocking I/O on
// loopback in the test's thread (the service runs on its own), the records
// written with the codec under test.
class PoolLink {
  public:
    PoolLink(const ntp::SocketAddress& server, const io::TlsClientConfig& tls)
        : tls_(io::TlsContext::client(tls)) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(server.port);
        connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    }
    ~PoolLink() { close(fd_); }
    PoolLink(const PoolLink&) = delete;
    PoolLink& operator=(const PoolLink&) = delete;

    // Sends @request and reads one response; its records, or none if the
    // server closed or the TLS session failed first.
    std::optional<std::vector<nts::Record>> ask(const Bytes& request) {
        if (!connected_ || !tls_.write(request)) return std::nullopt;
        std::vector<nts::Record> records;
        response_.restart();
        for (;;) {
            flush();
            for (;;) {
                auto next = response_.next();
                if (!next) return std::nullopt;
                if (!next->has_value()) break;
                records.push_back(**next);
                if (records.back().is(nts::RecordType::EndOfMessage)) return records;
            }
            if (!receive()) return std::nullopt;
        }
    }

    // True once the server closes the connection (close_notify or EOF).
    bool server_closes() {
        while (!tls_.peer_closed() && !eof_) {
            if (!receive()) break;
        }
        return tls_.peer_closed() || eof_;
    }

  private:
    void flush() {
        Bytes out;
        tls_.take_ciphertext(out);
        if (out.empty()) return;
        EXPECT_EQ(send(fd_, out.data(), out.size(), MSG_NOSIGNAL), ssize_t(out.size()));
    }
    // One read (5 s at most) into the TLS session and the decoder.
    bool receive() {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) return false;
        uint8_t buffer[4096];
        const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        if (!tls_.feed({buffer, size_t(n)})) return false;
        flush();
        Bytes plain;
        tls_.take_plaintext(plain);
        response_.feed(plain);
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
    io::TlsSession tls_;
    nts::RecordDecoder response_{nts::kDefaultMaxResponseBytes};
};

constexpr char kPoolToken[] = "b3c1f0e2d4a59687-pool";

// A pool request: Authentication, Fixed Key (C2S ‖ S2C), Next Protocol,
// AEAD, optionally Keep Alive, as the nts-pool KE front orders them.
Bytes fixed_key_request(const nts::NtsKeys& keys, std::string_view token = kPoolToken,
                        bool keep_alive = false) {
    Bytes out;
    EXPECT_TRUE(nts::append_authentication(out, token));
    EXPECT_TRUE(nts::append_fixed_key_request(out, keys.c2s, keys.s2c));
    const uint16_t protocol = nts::kNextProtocolNtpV4;
    EXPECT_TRUE(nts::append_next_protocol(out, {&protocol, 1}));
    EXPECT_TRUE(nts::append_aead_algorithms(out, true, {&keys.aead, 1}));
    if (keep_alive) nts::append_keep_alive(out);
    nts::append_end_of_message(out);
    return out;
}

nts::NtsKeys pool_keys(uint16_t aead, uint8_t seed) {
    nts::NtsKeys k;
    k.aead = aead;
    const size_t length = nts::aead_key_length(aead).value_or(32);
    for (size_t i = 0; i < length; ++i) {
        k.c2s.push_back(static_cast<uint8_t>(seed + i));
        k.s2c.push_back(static_cast<uint8_t>(seed * 3 + i));
    }
    return k;
}

std::vector<std::vector<uint8_t>> cookies_of(const std::vector<nts::Record>& records) {
    std::vector<std::vector<uint8_t>> cookies;
    for (const auto& r : records)
        if (r.is(nts::RecordType::NewCookie)) cookies.push_back(r.body);
    return cookies;
}

std::optional<uint16_t> error_of(const std::optional<std::vector<nts::Record>>& records) {
    if (!records || records->size() != 2 || !(*records)[0].is(nts::RecordType::Error))
        return std::nullopt;
    return nts::read_u16((*records)[0].body);
}

class NtsPoolSource : public NtsServices {
  protected:
    void configure(config::NtsKeServerConfig& ke) override {
        pool_cert_ = io::testing::make_test_certificate("pool.example");
        other_cert_ = io::testing::make_test_certificate("pool.example");
        write_file(dir_.file("pool-ca.pem"), pool_cert_.certificate_pem);
        write_file(dir_.file("pool-tokens"), std::string("# test\n") + kPoolToken + "\n");
        ke.pool_ca = dir_.file("pool-ca.pem");
        ke.pool_token_file = dir_.file("pool-tokens");
        ke.pool_tokens = {"another-token"};
        ke.pool_max_sessions = 2;
    }

    // A TLS session to the service; @client: the certificate the pool
    // presents (none: nullptr).
    std::unique_ptr<PoolLink> connect_pool(const io::testing::TestCertificate* client) {
        io::TlsClientConfig t;
        std::ifstream in(dir_.file("cert.pem"));
        t.trusted_pem.assign(std::istreambuf_iterator<char>(in), {});
        t.server_name = "localhost";
        t.alpn = {"ntske/1"};
        if (client != nullptr) {
            t.certificate_pem = client->certificate_pem;
            t.private_key_pem = client->private_key_pem;
        }
        return std::make_unique<PoolLink>(ke_.listen[0], t);
    }

    // The server's keep-alive gauge settles after its on_close.
    uint64_t keep_alive_open_after_close() {
        for (int i = 0; i < 200 && service_->counters().pool_keep_alive_open != 0; ++i)
            std::this_thread::sleep_for(10ms);
        return service_->counters().pool_keep_alive_open;
    }

    io::testing::TestCertificate pool_cert_, other_cert_;
};

TEST_F(NtsPoolSource, FixedKeyCookiesFromTheServersMasterKeyOpenAtTheNtpServer) {
    for (const uint16_t aead : {uint16_t{30}, uint16_t{15}}) {
        auto link = connect_pool(&pool_cert_);
        const nts::NtsKeys keys = pool_keys(aead, static_cast<uint8_t>(aead));
        const auto records = link->ask(fixed_key_request(keys));
        ASSERT_TRUE(records);
        ASSERT_GE(records->size(), 3u);
        EXPECT_EQ((*records)[1], (nts::Record{true, 4, {0, static_cast<uint8_t>(aead)}}));
        const auto cookies = cookies_of(*records);
        ASSERT_EQ(cookies.size(), 8u);
        EXPECT_TRUE(link->server_closes()) << "no Keep Alive asked: one request";
        // The keys the pool gave, not this TLS session's, are in the
        // cookies: an NTS exchange with them authenticates both ways.
        ntp::SplitMix64 random(aead);
        auto client = nts::NtsClient::create(keys, cookies, random);
        ASSERT_TRUE(client.has_value());
        NtsKeOutcome o{std::move(*client), {}, 0, {}};
        round_trip(o);
    }
    const NtsKeCounters c = service_->counters();
    EXPECT_TRUE(c.pool);
    EXPECT_EQ(c.pool_fixed_key_served, 2u);
    EXPECT_EQ(c.keys_issued, 0u) << "no RFC 8915 key export";
}

TEST_F(NtsPoolSource, KeepAliveSessionServesTwoRequests) {
    auto link = connect_pool(&pool_cert_);
    Bytes support;
    ASSERT_TRUE(nts::append_authentication(support, kPoolToken));
    ASSERT_TRUE(nts::append_supported_protocols(support, {}));
    ASSERT_TRUE(nts::append_supported_algorithms(support, {}));
    nts::append_keep_alive(support);
    nts::append_end_of_message(support);
    const auto lists = link->ask(support);
    ASSERT_TRUE(lists);
    ASSERT_EQ(lists->size(), 4u);
    EXPECT_EQ(*nts::read_supported_protocols((*lists)[0].body), std::vector<uint16_t>{0});
    EXPECT_EQ(*nts::read_supported_algorithms((*lists)[1].body),
              (std::vector<nts::AlgorithmDescription>{{30, 16}, {15, 32}}));
    EXPECT_EQ((*lists)[2].type, 8) << "Keep Alive granted";
    EXPECT_EQ(service_->counters().pool_keep_alive_open, 1u);

    const nts::NtsKeys keys = pool_keys(15, 9);
    const auto second = link->ask(fixed_key_request(keys));
    ASSERT_TRUE(second);
    const auto cookies = cookies_of(*second);
    ASSERT_EQ(cookies.size(), 8u);
    EXPECT_TRUE(link->server_closes()) << "the second asked no Keep Alive";
    ntp::SplitMix64 random(9);
    auto client = nts::NtsClient::create(keys, cookies, random);
    ASSERT_TRUE(client.has_value());
    NtsKeOutcome o{std::move(*client), {}, 0, {}};
    round_trip(o);

    const NtsKeCounters c = service_->counters();
    EXPECT_EQ(c.pool_support_served, 1u);
    EXPECT_EQ(c.pool_fixed_key_served, 1u);
    EXPECT_EQ(c.pool_keep_alive_sessions, 1u);
    EXPECT_EQ(keep_alive_open_after_close(), 0u);
}

TEST_F(NtsPoolSource, RefusedWithoutCertificateWithAnotherCasOrWithAWrongToken) {
    const nts::NtsKeys keys = pool_keys(30, 5);
    EXPECT_EQ(error_of(connect_pool(nullptr)->ask(fixed_key_request(keys))), 0);
    EXPECT_EQ(error_of(connect_pool(&other_cert_)->ask(fixed_key_request(keys))), 0);
    EXPECT_EQ(error_of(connect_pool(&pool_cert_)->ask(fixed_key_request(keys, "wrong-token"))), 1);
    // The token from the file and the one from pool_tokens both work.
    EXPECT_EQ(cookies_of(*connect_pool(&pool_cert_)->ask(fixed_key_request(keys, "another-token")))
                  .size(),
              8u);
    const NtsKeCounters c = service_->counters();
    EXPECT_EQ(c.pool_refused_no_certificate, 1u);
    EXPECT_EQ(c.pool_refused_certificate, 1u);
    EXPECT_EQ(c.pool_refused_token, 1u);
    EXPECT_EQ(c.pool_fixed_key_served, 1u);
    EXPECT_EQ(c.unrecognized_critical, 2u);
    EXPECT_EQ(c.bad_request, 1u);
}

TEST_F(NtsPoolSource, UnsupportedAeadIsRefusedWithAnEmptyAeadRecord) {
    nts::NtsKeys keys = pool_keys(17, 1);  // AES-SIV-CMAC-512: not nanotimed's
    keys.c2s.resize(64, 1);
    keys.s2c.resize(64, 2);
    const auto records = connect_pool(&pool_cert_)->ask(fixed_key_request(keys));
    ASSERT_TRUE(records);
    ASSERT_EQ(records->size(), 3u);
    EXPECT_EQ((*records)[0], (nts::Record{true, 1, {0, 0}}));
    EXPECT_EQ((*records)[1], (nts::Record{true, 4, {}}));
    EXPECT_EQ(service_->counters().pool_refused_aead, 1u);
}

TEST_F(NtsPoolSource, Rfc8915ClientsAreUnaffected) {
    NtsKeOutcome o = exchange(dir_.file("cert.pem"));
    ASSERT_TRUE(o.client) << o.error;
    round_trip(o);
    EXPECT_EQ(service_->counters().keys_issued, 1u);
}

}  // namespace
}  // namespace nanotime::daemon
