// nts_ke_client.cpp - NTS-KE for the NTS sources (see nts_ke_client.hpp).
#include "nanotimed/nts_ke_client.hpp"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace nanotime::daemon {

NtsKeClients::NtsKeClients(const config::NtsConfig& config, io::EventLoop& loop,
                           ntp::RandomSource& random, DoneFn on_done)
    : config_(config), loop_(loop), random_(random), on_done_(std::move(on_done)) {
    if (!config_.trusted_ca.empty()) {
        std::ifstream in(config_.trusted_ca, std::ios::binary);
        if (!in) {
            throw std::runtime_error("nts.trusted_ca " + config_.trusted_ca + ": " +
                                     std::generic_category().message(errno));
        }
        std::ostringstream text;
        text << in.rdbuf();
        trusted_pem_ = text.str();
    }
}

NtsKeClients::~NtsKeClients() {
    for (auto& [source, run] : runs_) loop_.cancel_timer(run->timer);
}

std::shared_ptr<io::TlsContext> NtsKeClients::context(const std::string& host, bool check_time) {
    auto& slot = contexts_[{host, check_time}];
    if (!slot) {
        io::TlsClientConfig c;
        c.trusted_pem = trusted_pem_;
        c.server_name = host;
        c.alpn = {"ntske/1"};
        c.check_validity_time = check_time;
        slot = io::TlsContext::client(c);
    }
    return slot;
}

void NtsKeClients::start(uint64_t source, const ntp::SocketAddress& server, const std::string& host,
                         bool clock_trusted) {
    if (runs_.count(source) != 0) return;
    const bool check_time =
        config_.certificate_time_check == config::CertificateTimeCheck::Always || clock_trusted;
    std::shared_ptr<io::TlsContext> tls;
    try {
        tls = context(host, check_time);
    } catch (const std::exception& e) {
        // Not started: report at once, but never from inside the caller.
        const std::string why = e.what();
        loop_.add_timer_after(std::chrono::milliseconds(0), [this, source, why] {
            on_done_(source, NtsKeOutcome{std::nullopt, {}, 0, why});
        });
        return;
    }
    auto run = std::make_unique<Run>();
    Run* r = run.get();
    nts::KeClientConfig kc;
    kc.ke_host = server.ip.to_string();
    kc.aead_algorithms = config_.aead_algorithms;
    r->session = std::make_unique<nts::KeClientSession>(
        kc, [r](std::string_view label, std::span<const uint8_t> context, size_t length) {
            return r->stream->export_keying_material(label, context, length);
        });
    io::StreamClient::Handlers h;
    h.on_open = [r] { r->stream->send(r->session->request()); };
    h.on_data = [this, r, source](std::span<const uint8_t> data) {
        if (r->finished) return;
        if (r->session->feed(data) != nts::KeClientStatus::NeedMore) finish(source, {});
    };
    h.on_close = [this, r, source](const std::string& error) {
        if (r->finished) return;
        if (error.empty()) r->session->peer_closed();
        finish(source, error);
    };
    r->timer = loop_.add_timer_after(kTimeout, [this, r, source] {
        r->timer = 0;
        if (!r->finished) finish(source, "no answer within 10 s");
    });
    runs_[source] = std::move(run);
    r->stream = std::make_unique<io::StreamClient>(
        loop_, server, tls, std::move(h),
        std::chrono::duration_cast<std::chrono::milliseconds>(kTimeout));
}

void NtsKeClients::cancel(uint64_t source) {
    auto it = runs_.find(source);
    if (it == runs_.end()) return;
    loop_.cancel_timer(it->second->timer);
    runs_.erase(it);
}

// Called from the stream's or the timer's callback: the run is only marked
// here and destroyed from a fresh loop turn, never under its own callback.
void NtsKeClients::finish(uint64_t source, const std::string& tls_error) {
    auto it = runs_.find(source);
    if (it == runs_.end()) return;
    Run& r = *it->second;
    r.finished = true;
    loop_.cancel_timer(r.timer);
    r.timer = 0;
    NtsKeOutcome outcome;
    if (r.session->status() == nts::KeClientStatus::Done) {
        const nts::KeClientResult& res = r.session->result();
        auto client = nts::NtsClient::create(res.keys, res.cookies, random_);
        if (client) {
            outcome.client.emplace(std::move(*client));
            outcome.ntp_host = res.ntp_server;
            outcome.ntp_port = res.ntp_port == nts::kDefaultNtpPort ? 0 : res.ntp_port;
        } else {
            outcome.error = std::string("AEAD ") + std::to_string(res.keys.aead) +
                            " agreed but not usable: " + nts::to_string(client.error());
        }
    } else if (r.session->status() == nts::KeClientStatus::Failed) {
        const nts::KeClientFailure& f = r.session->failure();
        outcome.error = std::string(nts::to_string(f.error)) + ": " + std::string(f.detail);
    } else {
        outcome.error = tls_error.empty() ? "closed before the response" : tls_error;
    }
    const Run* done = &r;
    loop_.add_timer_after(std::chrono::milliseconds(0), [this, source, done] {
        auto live = runs_.find(source);
        if (live != runs_.end() && live->second.get() == done) runs_.erase(live);
    });
    on_done_(source, std::move(outcome));
}

}  // namespace nanotime::daemon
