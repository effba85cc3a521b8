// server_front_end.cpp - the NTP server's sockets, workers and reply path
// (see server_front_end.hpp).
#include "nanotimed/server_front_end.hpp"

#include <algorithm>
#include <string>

namespace nanotime::daemon {
namespace {

bool is_wildcard(const ntp::SocketAddress& a) {
    return a.ip == ntp::SocketAddress::v4_any(0).ip || a.ip == ntp::SocketAddress::v6_any(0).ip;
}

}  // namespace

ServerFrontEnd::ServerFrontEnd(const ntp::ServerConfig& config, const config::IoConfig& io,
                               io::EventLoop& loop, const Timescale& timescale,
                               io::RateLimitedLog& log, ntp::RandomSource& random,
                               StateFn served_state, SharedKeyStore* nts_keys)
    : loop_(loop),
      timescale_(timescale),
      log_(log),
      served_state_(std::move(served_state)),
      tx_time_([&timescale](const io::PacketTimestamps& ts) { return timescale.kernel_time(ts); }) {
    ntp::ServerConfig server_config = config;
    // With extra workers every server thread has its own rate-limit
    // table; together they stay within server.rate_limit.memory.
    const unsigned workers = static_cast<unsigned>(config.workers);
    if (server_config.rate_limit && workers > 1) {
        server_config.rate_limit->memory_bytes =
            std::max<size_t>(4096, server_config.rate_limit->memory_bytes / workers);
    }
    if (workers > 1) {
        server_config.interleaved_memory =
            std::max<size_t>(4096, server_config.interleaved_memory / workers);
    }
    const ntp::ServerConfig per_worker = server_config;
    server_ = std::make_unique<ntp::NtpServer>(std::move(server_config), random);
    if (nts_keys != nullptr) {
        nts_ = std::make_unique<ServerNts>(*nts_keys, random);
        nts_->attach(*server_);
    }
    std::vector<io::UdpOptions> binds;
    for (const ntp::SocketAddress& address : config.listen) {
        io::UdpOptions o;
        o.bind = address;
        o.rx_timestamps = true;
        o.reuse_port = workers > 1;
        // The destination address of each request matters only on a
        // wildcard socket (the reply must leave from it); on a socket
        // bound to one address, IP_PKTINFO would cost a control message
        // per datagram each way for nothing.
        o.pktinfo = is_wildcard(o.bind);
        // Interleaved replies ask for their kernel TX stamp; others never.
        o.tx_timestamps_on_request = config.interleaved;
        const uint64_t id = loop_.open_udp(
            o, [this](const io::ReceivedDatagram& d) { on_datagram(d); },
            [this](const io::TxTimestamp& t) { tx_stamps_.stamped(t, *server_, tx_time_); });
        sockets_.push_back(id);
        if (const auto bound = loop_.local_address(id))
            o.bind.port = bound->port;  // if 0 was asked
        binds.push_back(o);
        log_.info(io::LogClass::General, "serving NTP on " + o.bind.to_string());
    }
    if (workers > 1) {
        io::LoopOptions lo;
        lo.choice = loop_.backend() == io::Backend::IoUring ? io::BackendChoice::IoUring
                                                            : io::BackendChoice::Poll;
        lo.ring_entries = io.ring_entries;
        lo.buffer_count = io.receive_buffers;
        workers_ = std::make_unique<ServerWorkers>(
            workers - 1, lo, binds,
            [&per_worker, &random] { return std::make_unique<ntp::NtpServer>(per_worker, random); },
            [&timescale](const io::ReceivedDatagram& d) { return timescale.receive_time(d); },
            [&timescale] { return timescale.now(); }, served_state_(), nts_keys, &random, tx_time_);
        log_.info(io::LogClass::General, std::to_string(workers) +
                                             " server workers (SO_REUSEPORT, one " +
                                             io::backend_name(loop_.backend()) + " loop each)");
    }
}

ServerFrontEnd::~ServerFrontEnd() = default;

void ServerFrontEnd::start() {
    if (workers_) workers_->start();
}

void ServerFrontEnd::publish(const ntp::SystemState& state) {
    if (workers_) workers_->publish(state);
}

ntp::ServerCounters ServerFrontEnd::counters() const {
    ntp::ServerCounters c = server_->counters();
    if (workers_) workers_->add_counters(c);
    return c;
}

nts::NtsServerCounters ServerFrontEnd::nts_counters() const {
    nts::NtsServerCounters c;
    if (nts_) c = nts_->counters();
    if (workers_) workers_->add_nts_counters(c);
    return c;
}

uint64_t ServerFrontEnd::worker_datagrams_truncated() const {
    return workers_ ? workers_->datagrams_truncated() : 0;
}

std::vector<ClientTable> ServerFrontEnd::client_tables() const {
    std::vector<ClientTable> tables{client_table(*server_)};
    if (workers_) workers_->add_client_tables(tables);
    return tables;
}

void ServerFrontEnd::reset_client_counters() {
    server_->reset_client_counters();
    if (workers_) workers_->reset_client_counters();
}

metrics::HistogramData ServerFrontEnd::latency() const {
    metrics::HistogramData total = latency_.read();
    if (workers_) workers_->add_latency(total);
    return total;
}

void ServerFrontEnd::on_datagram(const io::ReceivedDatagram& d) {
    const ntp::NtpInstant rx = timescale_.receive_time(d);
    if (nts_) nts_->refresh();
    answer_request(*server_, loop_, d, rx, timescale_.now(), served_state_(), &log_, &latency_,
                   &tx_stamps_);
}

}  // namespace nanotime::daemon
