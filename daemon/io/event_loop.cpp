// event_loop.cpp - the part of the event loop both backends share that is
// not in a file of its own: UDP sockets and their send queues, TX-timestamp
// bookkeeping (matching error-queue stamps to the sends they belong to),
// watched descriptors, and one loop iteration (run_once). See
// event_loop.hpp for the other parts.
#include "io/event_loop.hpp"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "io/loop_objects.hpp"
#include "io/sockaddr.hpp"
#include "io/timestamps.hpp"
#include "io/udp_socket.hpp"

namespace nanotime::io {
namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

constexpr size_t kMaxTxBookkeeping = 4096;  // pending TX timestamps per socket

// How long a new socket keeps SO_TIMESTAMPNS: the kernel's timestamp switch
// is flipped by a work item queued when the first timestamping socket asks,
// normally within milliseconds; a second is ample.
constexpr std::chrono::seconds kRxStampBridge{1};

// What a received datagram can carry: both timestamp messages and pktinfo.
static_assert(CMSG_SPACE(sizeof(scm_timestamping)) + CMSG_SPACE(sizeof(timespec)) +
                      CMSG_SPACE(sizeof(in6_pktinfo)) <=
                  kRxControlSize,
              "kRxControlSize cannot hold the control messages open_udp asks for");

}  // namespace

EventLoop::EventLoop(const LoopOptions& options)
    : options_(options),
      sys_(options.syscalls != nullptr ? options.syscalls : &Syscalls::system()) {}

EventLoop::~EventLoop() {
    close_signal_pipe();
    for (auto& [id, s] : udps_) close(s->fd);
    for (auto& [id, l] : listeners_) close(l->fd);
    for (auto& [id, c] : conns_) close(c->fd);
    if (signal_fd_ >= 0) close(signal_fd_);
    // Watched descriptors (watches_) belong to their callers.
}

void EventLoop::set_fallback_log(FallbackFn fn) {
    fallback_log_ = std::move(fn);
    if (fallback_log_) {
        for (const std::string& f : fallbacks_) fallback_log_(f);
    }
}

void EventLoop::note_fallback(const std::string& what) {
    if (std::find(fallbacks_.begin(), fallbacks_.end(), what) != fallbacks_.end()) return;
    fallbacks_.push_back(what);
    if (fallback_log_) fallback_log_(what);
}

void EventLoop::set_nonblocking(int fd) const {
    const int flags = sys_->fcntl(fd, F_GETFL, 0);
    if (flags < 0 || sys_->fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        throw_errno("fcntl O_NONBLOCK");
}

uint64_t EventLoop::open_udp(const UdpOptions& requested, UdpReceiveFn on_receive,
                             TxTimestampFn on_tx_timestamp) {
    UdpOptions options = requested;  // what the socket really got (timestamps may be refused)
    const int fd =
        open_udp_socket(*sys_, options, [this](const std::string& what) { note_fallback(what); });
    auto s = std::make_unique<UdpSock>();
    s->id = next_id_++;
    s->fd = fd;
    s->options = options;
    s->on_receive = std::move(on_receive);
    s->on_tx = std::move(on_tx_timestamp);
    s->rx_stamp_bridge = options.rx_timestamps;
    if (s->rx_stamp_bridge) s->rx_stamp_bridge_until = MonoClock::now() + kRxStampBridge;
    UdpSock& ref = *s;
    udps_.emplace(s->id, std::move(s));
    udp_added(ref);
    return ref.id;
}

void EventLoop::close_udp(uint64_t id) {
    UdpSock* s = udp(id);
    if (s == nullptr || s->closing) return;
    mark_closing(*s);
    s->queue.clear();
    udp_closing(*s);
}

std::optional<ntp::SocketAddress> EventLoop::local_address(uint64_t id) const {
    auto it = udps_.find(id);
    if (it == udps_.end()) return std::nullopt;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(it->second->fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        return std::nullopt;
    return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

uint64_t EventLoop::send_udp(uint64_t id, const ntp::SocketAddress& to,
                             std::span<const uint8_t> data, const ntp::SocketAddress* from,
                             bool want_tx_timestamp) {
    UdpSock* s = udp(id);
    if (s == nullptr || s->closing) return 0;
    PendingSend& p = s->queue.push_back();
    p.to = to;
    p.from.reset();
    if (from != nullptr) p.from = *from;
    p.data.assign(data);
    p.token = next_token_++;
    p.tx_stamp = want_tx_timestamp && s->options.tx_timestamps_on_request;
    return p.token;
}

PendingSend& SendQueue::push_back() {
    if (count_ == slots_.size()) {
        // Full: double, moving the queue to the front of the new ring in order.
        std::vector<PendingSend> grown(std::max<size_t>(16, slots_.size() * 2));
        for (size_t i = 0; i < count_; ++i) grown[i] = std::move((*this)[i]);
        slots_ = std::move(grown);
        head_ = 0;
    }
    ++count_;
    return back();
}

void EventLoop::collect_tx_timestamps(uint64_t id) {
    UdpSock* s = udp(id);
    if (s == nullptr || s->closing || !s->options.any_tx_timestamps()) return;
    // Only while a stamp is awaited: nothing else on the queue matters here
    // (the POLLERR/POLLPRI path drains it), and an error-queue read on an
    // empty queue is not harmless everywhere (clknetsim's recvmsg then takes
    // the node's next network message, which may be another socket's).
    if (s->tx_waiting.empty()) return;
    drain_error_queue(*s);
}

void EventLoop::note_sent(UdpSock& s, uint64_t token, bool tx_stamp) {
    ++stats_.datagrams_sent;
    if (!s.options.tx_timestamps && !tx_stamp) return;
    const uint32_t key = s.next_key++;
    // The stamp may already be here: on loopback the kernel stamps inside sendmsg.
    for (auto it = s.tx_early.begin(); it != s.tx_early.end(); ++it) {
        if (it->first == key) {
            TxTimestamp t{s.id, token, it->second};
            s.tx_early.erase(it);
            ++stats_.tx_timestamps;
            if (s.on_tx) s.on_tx(t);
            return;
        }
    }
    s.tx_waiting.emplace_back(key, token);
    if (s.tx_waiting.size() > kMaxTxBookkeeping) s.tx_waiting.pop_front();
}

void EventLoop::drain_error_queue(UdpSock& s) {
    // Read in batches with recvmmsg: a batch that comes back short means the
    // queue is empty, so a drain costs one call when there is little to read
    // (and never reads an empty queue after a message, which clknetsim's
    // emulation cannot answer: see collect_tx_timestamps).
    constexpr unsigned kBatch = 8;
    constexpr int kFlags = MSG_ERRQUEUE | MSG_DONTWAIT;
    const uint64_t id = s.id;
    for (int round = 0; round < 64; ++round) {
        alignas(cmsghdr) uint8_t control[kBatch][512];
        uint8_t data[kBatch][64];
        iovec iov[kBatch];
        mmsghdr msgs[kBatch];
        for (unsigned i = 0; i < kBatch; ++i) {
            // cppcheck-suppress legacyUninitvar // only its address: the kernel fills it
            iov[i] = iovec{data[i], sizeof data[i]};
            msgs[i] = mmsghdr{};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = control[i];
            msgs[i].msg_hdr.msg_controllen = sizeof control[i];
        }
        int n = -1;
        if (recvmmsg_usable_) {
            n = sys_->recvmmsg(s.fd, msgs, kBatch, kFlags, nullptr);
            if (n < 0 && errno == ENOSYS) {
                recvmmsg_usable_ = false;
                note_fallback("recvmmsg unavailable (ENOSYS): one recvmsg per datagram");
            }
        }
        if (!recvmmsg_usable_) n = sys_->recvmsg(s.fd, &msgs[0].msg_hdr, kFlags) < 0 ? -1 : 1;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                // POLLERR without a queued message is a pending socket error
                // (an ICMP unreachable, say); reading SO_ERROR clears it.
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            }
            return;
        }
        for (int i = 0; i < n; ++i) {
            handle_error_message(s, msgs[i].msg_hdr);
            UdpSock* live = udp(id);
            if (live == nullptr || live->closing) return;  // a callback closed the socket
        }
        if (recvmmsg_usable_ && static_cast<unsigned>(n) < kBatch) return;
    }
}

void EventLoop::handle_error_message(UdpSock& s, const msghdr& msg) {
    const std::optional<TxStampReport> report = parse_tx_report(msg);
    if (!report) return;
    const uint32_t key = report->key;
    const PacketTimestamps& ts = report->tx;
    bool matched = false;
    while (!s.tx_waiting.empty()) {
        auto [k, token] = s.tx_waiting.front();
        // Keys only grow (mod 2^32); older waiting entries lost their stamp.
        if (static_cast<int32_t>(k - key) > 0) break;
        s.tx_waiting.pop_front();
        if (k == key) {
            ++stats_.tx_timestamps;
            TxTimestamp t{s.id, token, ts};
            if (s.on_tx) s.on_tx(t);
            matched = true;
            break;
        }
    }
    if (!matched && static_cast<int32_t>(key - s.next_key) >= 0) {
        s.tx_early.emplace_back(key, ts);
        if (s.tx_early.size() > kMaxTxBookkeeping) s.tx_early.pop_front();
    }
}

void EventLoop::deliver(UdpSock& s, ReceivedDatagram& d, bool truncated) {
    // Cut by the receive buffer: whatever the owner made of the first part,
    // it would be an answer to a request it never saw whole. Dropped here,
    // for every socket and both backends.
    if (truncated) {
        ++stats_.datagrams_truncated;
        return;
    }
    ++stats_.datagrams_received;
    d.socket = s.id;
    if (s.rx_stamp_bridge) end_rx_stamp_bridge(s);
    if (s.on_receive) s.on_receive(d);
}

void EventLoop::end_rx_stamp_bridge(UdpSock& s) {
    if (MonoClock::now() < s.rx_stamp_bridge_until) return;
    s.rx_stamp_bridge = false;
    // Only where SO_TIMESTAMPING gives software RX stamps itself: otherwise
    // SO_TIMESTAMPNS is the socket's only stamp and stays.
    int flags = 0;
    socklen_t len = sizeof flags;
    constexpr int kSoftwareRx = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    if (getsockopt(s.fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, &len) != 0 ||
        (flags & kSoftwareRx) != kSoftwareRx)
        return;
    const int off = 0;
    sys_->setsockopt(s.fd, SOL_SOCKET, SO_TIMESTAMPNS, &off, sizeof off);
}

void EventLoop::finish_udp_close(uint64_t id) {
    auto it = udps_.find(id);
    if (it == udps_.end()) return;
    close(it->second->fd);
    udps_.erase(it);
}

void EventLoop::finish_watch_close(uint64_t id) {
    watches_.erase(id);  // the descriptor belongs to the caller
}

uint64_t EventLoop::watch_fd(int fd, ReadableFn fn) {
    auto w = std::make_unique<FdWatch>();
    w->id = next_id_++;
    w->fd = fd;
    w->on_readable = std::move(fn);
    w->failed = fd < 0;
    FdWatch& ref = *w;
    watches_.emplace(w->id, std::move(w));
    if (!ref.failed) watch_added(ref);
    return ref.id;
}

void EventLoop::unwatch_fd(uint64_t id) {
    FdWatch* w = fd_watch(id);
    if (w == nullptr || w->closing) return;
    mark_closing(*w);
    // The callback may be running (this may be it): the watch, and with it
    // the std::function, stays until sweep_closed() at the end of run_once().
    watch_closing(*w);
}

void EventLoop::deliver_readable(FdWatch& w) {
    if (!w.closing && !w.failed && w.on_readable) w.on_readable();
}

uint64_t EventLoop::add_timer(MonoClock::time_point deadline, TimerFn fn) {
    return timers_.add(deadline, std::move(fn));
}

bool EventLoop::cancel_timer(uint64_t id) {
    return timers_.cancel(id);
}

UdpSock* EventLoop::udp(uint64_t id) {
    auto it = udps_.find(id);
    return it == udps_.end() ? nullptr : it->second.get();
}

FdWatch* EventLoop::fd_watch(uint64_t id) {
    auto it = watches_.find(id);
    return it == watches_.end() ? nullptr : it->second.get();
}

void EventLoop::run_once(std::optional<MonoClock::duration> max_wait) {
    flush_sends();              // anything queued outside a callback (set-up code, tests)
    deliver_pending_signals();  // caught while a callback ran: do not wait first
    std::optional<MonoClock::time_point> deadline = timers_.next_deadline();
    if (max_wait) {
        const auto limit = MonoClock::now() + *max_wait;
        if (!deadline || limit < *deadline) deadline = limit;
    }
    if (signal_delivery_ == SignalDelivery::Interrupt) {
        // A signal caught between the check above and the start of the wait
        // does not interrupt it: bound the wait instead.
        const auto limit = MonoClock::now() + kSignalCheckInterval;
        if (!deadline || limit < *deadline) deadline = limit;
    }
    ++stats_.wakeups;
    wait_and_dispatch(deadline);
    deliver_pending_signals();
    timers_.fire_due(MonoClock::now());
    flush_sends();
    sweep_closed();
}

void EventLoop::sweep_closed() {
    if (!sweep_pending_) return;
    sweep_pending_ = false;
    // Closing and idle: finish it now. Closing with work in flight: keep the
    // sweep pending until the completions have come back.
    const auto finishable = [this](const auto& object) {
        if (object->closing && object->inflight != 0) sweep_pending_ = true;
        return object->closing && object->inflight == 0;
    };
    std::vector<uint64_t> done;
    for (auto& [id, s] : udps_) {
        if (finishable(s)) done.push_back(id);
    }
    for (uint64_t id : done) finish_udp_close(id);
    done.clear();
    for (auto& [id, l] : listeners_) {
        if (finishable(l)) done.push_back(id);
    }
    for (uint64_t id : done) finish_listener_close(id);
    done.clear();
    for (auto& [id, c] : conns_) {
        if (finishable(c)) done.push_back(id);
    }
    for (uint64_t id : done) finish_conn_close(id);
    done.clear();
    for (auto& [id, w] : watches_) {
        if (finishable(w)) done.push_back(id);
    }
    for (uint64_t id : done) finish_watch_close(id);
}

void EventLoop::run() {
    stopping_ = false;
    running_ = true;
    while (!stopping_) run_once(std::nullopt);
    running_ = false;
    flush_sends();  // what the last iteration queued
}

}  // namespace nanotime::io
