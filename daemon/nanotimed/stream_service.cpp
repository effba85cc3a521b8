// stream_service.cpp - a TCP/TLS role's listeners, loop and thread (see
// stream_service.hpp).
#include "nanotimed/stream_service.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace nanotime::daemon {
namespace {

std::string read_pem(const std::string& section, const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(section + "." + what + " " + path + ": " +
                                 std::generic_category().message(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The service's loop runs on the thread start() makes, not its creator's.
io::LoopOptions own_thread(io::LoopOptions options) {
    options.runs_on_creating_thread = false;
    return options;
}

}  // namespace

std::shared_ptr<io::TlsContext> load_server_tls(const std::string& section,
                                                const std::string& certificate,
                                                const std::string& private_key,
                                                const std::vector<std::string>& alpn,
                                                const std::string& client_ca) {
    io::TlsServerConfig t;
    t.certificate_pem = read_pem(section, certificate, "certificate");
    t.private_key_pem = read_pem(section, private_key, "private_key");
    if (!client_ca.empty()) t.client_ca_pem = read_pem(section, client_ca, "pool_ca");
    t.alpn = alpn;
    try {
        return io::TlsContext::server(t);
    } catch (const std::exception& e) {
        throw std::runtime_error(section + ": " + certificate + " / " + private_key + ": " +
                                 e.what());
    }
}

StreamService::StreamService(std::string section, const std::vector<ntp::SocketAddress>& listen,
                             const io::LoopOptions& loop_options, const io::ListenerLimits& limits,
                             const std::shared_ptr<io::TlsContext>& tls, Handlers handlers)
    : section_(std::move(section)),
      handlers_(std::move(handlers)),
      loop_(io::make_event_loop(own_thread(loop_options))) {
    for (const ntp::SocketAddress& a : listen) {
        const int fd = io::open_tcp_listener(a);
        const size_t i = servers_.size();
        io::StreamServer::Handlers h;
        h.on_open = [this, i](uint64_t conn, const ntp::SocketAddress&) {
            handlers_.on_open(*servers_[i], conn);
        };
        h.on_data = [this](uint64_t conn, std::span<const uint8_t> d) {
            handlers_.on_data(conn, d);
        };
        h.on_close = [this](uint64_t conn) { handlers_.on_close(conn); };
        servers_.push_back(
            std::make_unique<io::StreamServer>(*loop_, fd, limits, tls, std::move(h)));
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        throw std::system_error(errno, std::generic_category(), section_ + ": socketpair");
    wake_fd_ = pair[0];
    // A byte: a new TLS context is pending. EOF: stop.
    loop_->add_stream(
        pair[1], [this](uint64_t, std::span<const uint8_t>) { adopt_pending_tls(); },
        [this](uint64_t) { loop_->stop(); });
}

StreamService::~StreamService() {
    if (wake_fd_ >= 0) close(wake_fd_);  // EOF on the service loop's end: it stops
    if (thread_.joinable()) thread_.join();
}

void StreamService::start() {
    thread_ = std::thread([this] { loop_->run(); });
}

std::optional<std::string> StreamService::replace_tls(std::shared_ptr<io::TlsContext> tls) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pending_tls_ = std::move(tls);
    }
    const uint8_t byte = 1;
    if (write(wake_fd_, &byte, 1) != 1)
        return section_ + ": cannot wake the service's thread: " + std::strerror(errno);
    return std::nullopt;
}

void StreamService::adopt_pending_tls() {
    std::shared_ptr<io::TlsContext> tls;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        tls = std::move(pending_tls_);
    }
    if (!tls) return;
    for (auto& s : servers_) s->set_tls_context(tls);
}

}  // namespace nanotime::daemon
