#include "io/event_loop.hpp"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace nanotime::io {
namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

bool try_opt(const Syscalls& sys, int fd, int level, int name, int value) {
    return sys.setsockopt(fd, level, name, &value, sizeof value) == 0;
}

void set_opt(const Syscalls& sys, int fd, int level, int name, int value, const char* what) {
    if (!try_opt(sys, fd, level, name, value)) throw_errno(what);
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

// What the sigaction handler (SignalDelivery::SelfPipe and ::Interrupt)
// records. Process-wide, as dispositions are; lock-free atomics, so the
// handler may run on any thread.
std::atomic<bool> g_signal_pending[NSIG];
std::atomic<bool> g_any_signal_pending{false};
std::atomic<int> g_signal_pipe{-1};  // the self-pipe's write end, -1: none

void on_watched_signal(int sig) {
    const int saved_errno = errno;
    if (sig > 0 && sig < NSIG) g_signal_pending[sig].store(true);
    g_any_signal_pending.store(true);
    const int fd = g_signal_pipe.load();
    if (fd >= 0) {
        const char byte = 1;
        // A full pipe already holds a wake-up; nothing to do about an error here.
        if (write(fd, &byte, 1) < 0) {
        }
    }
    errno = saved_errno;
}

constexpr size_t kMaxTxBookkeeping = 4096;  // pending TX timestamps per socket

// What a received datagram can carry: both timestamp messages and pktinfo.
static_assert(CMSG_SPACE(sizeof(scm_timestamping)) + CMSG_SPACE(sizeof(timespec)) +
                      CMSG_SPACE(sizeof(in6_pktinfo)) <=
                  kRxControlSize,
              "kRxControlSize cannot hold the control messages open_udp asks for");

}  // namespace

const char* backend_name(Backend b) {
    return b == Backend::IoUring ? "io_uring" : "poll";
}

const char* signal_delivery_name(SignalDelivery d) {
    switch (d) {
        case SignalDelivery::None:
            return "none";
        case SignalDelivery::Signalfd:
            return "signalfd";
        case SignalDelivery::SelfPipe:
            return "self-pipe";
        case SignalDelivery::Interrupt:
            return "interrupt";
    }
    return "?";
}

EventLoop::~EventLoop() {
    restore_signal_handlers();
    if (signal_pipe_write_ >= 0) {
        int expected = signal_pipe_write_;
        g_signal_pipe.compare_exchange_strong(expected, -1);
        close(signal_pipe_write_);
    }
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
    if (requested.bind.empty()) throw std::system_error(EINVAL, std::generic_category(), "bind");
    UdpOptions options = requested;  // what the socket really got (timestamps may be refused)
    const int family = options.bind.family();
    bool fcntl_flags = false;
    const int fd = open_socket(*sys_, family, SOCK_DGRAM, 0, &fcntl_flags);
    if (fd < 0) throw_errno("socket");
    if (fcntl_flags) {
        note_fallback("socket() refuses SOCK_NONBLOCK|SOCK_CLOEXEC (EINVAL): flags set with fcntl");
    }
    const Syscalls& sys = *sys_;
    try {
        if (family == AF_INET6)
            set_opt(sys, fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6only, "IPV6_V6ONLY");
        if (options.reuse_port) set_opt(sys, fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
        if (options.pktinfo) {
            const bool ok = family == AF_INET ? try_opt(sys, fd, IPPROTO_IP, IP_PKTINFO, 1)
                                              : try_opt(sys, fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
            if (!ok) {
                // Replies then leave from the address the routing picks.
                note_fallback(errno_text("IP_PKTINFO refused") +
                              ": destination addresses of datagrams unknown");
                options.pktinfo = false;
            }
        }
        // Timestamps: the full set, else without the hardware bits (some
        // emulations and old kernels refuse them), else receive stamps only,
        // else none (the daemon then reads its clock when a datagram is
        // handled). Never fatal: a socket without stamps still works.
        constexpr int kRxSoft = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
        constexpr int kRxHard = SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE;
        constexpr int kTx = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
                            SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
        const int rx = options.rx_timestamps ? kRxSoft | kRxHard : 0;
        const int tx = options.tx_timestamps ? kTx : 0;
        if (rx | tx) {
            const int attempts[] = {rx | tx, (rx & ~kRxHard) | tx, rx & ~kRxHard};
            int got = 0;
            for (int flags : attempts) {
                if (flags == 0) continue;
                if (try_opt(sys, fd, SOL_SOCKET, SO_TIMESTAMPING, flags)) {
                    got = flags;
                    break;
                }
            }
            if (got != (rx | tx)) {
                note_fallback(errno_text("SO_TIMESTAMPING refused") +
                              (got != 0 ? ": software stamps only" : ": no kernel stamps"));
            }
            if ((got & SOF_TIMESTAMPING_TX_SOFTWARE) == 0) options.tx_timestamps = false;
        }
        // The kernel stamps received packets only while its global "someone
        // wants timestamps" static key is on, and switching that key on (the
        // first timestamping socket on the host) happens later, in a work
        // item: datagrams that arrive in between have no stamp, and
        // SO_TIMESTAMPING alone reports none for them. SO_TIMESTAMPNS makes
        // recvmsg() fill in the current time for such a packet (the
        // "race between timestamp enabling and packet receiving" case in
        // __sock_recv_timestamp), and SCM_TIMESTAMPING then carries it too.
        if (options.rx_timestamps && !try_opt(sys, fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)) {
            note_fallback(errno_text("SO_TIMESTAMPNS refused"));
        }
        // TX stamps wake the loop with POLLPRI as well as POLLERR, the way
        // chrony waits for them (select()'s exception set); emulations of
        // poll() that know no POLLERR (clknetsim) report only this. Not
        // fatal: on Linux POLLERR alone suffices.
        if (options.tx_timestamps) try_opt(sys, fd, SOL_SOCKET, SO_SELECT_ERR_QUEUE, 1);
        if (bind(fd, options.bind.sa(), options.bind.len()) != 0) throw_errno("bind");
    } catch (...) {
        close(fd);
        throw;
    }
    auto s = std::make_unique<UdpSock>();
    s->id = next_id_++;
    s->fd = fd;
    s->options = options;
    s->on_receive = std::move(on_receive);
    s->on_tx = std::move(on_tx_timestamp);
    UdpSock& ref = *s;
    udps_.emplace(s->id, std::move(s));
    udp_added(ref);
    return ref.id;
}

void EventLoop::close_udp(uint64_t id) {
    UdpSock* s = udp(id);
    if (s == nullptr || s->closing) return;
    s->closing = true;
    s->queue.clear();
    udp_closing(*s);
}

Endpoint EventLoop::local_endpoint(uint64_t id) const {
    auto it = udps_.find(id);
    if (it == udps_.end()) return {};
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(it->second->fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
    return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

uint64_t EventLoop::send_udp(uint64_t id, const Endpoint& to, std::span<const uint8_t> data,
                             const Endpoint* from) {
    UdpSock* s = udp(id);
    if (s == nullptr || s->closing) return 0;
    PendingSend& p = s->queue.push_back();
    p.to = to;
    p.from = from != nullptr ? *from : Endpoint();
    p.data.assign(data);
    p.token = next_token_++;
    return p.token;
}

EventLoop::PendingSend& EventLoop::SendQueue::push_back() {
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
    if (s == nullptr || s->closing || !s->options.tx_timestamps) return;
    // Only while a stamp is awaited: nothing else on the queue matters here
    // (the POLLERR/POLLPRI path drains it), and an error-queue read on an
    // empty queue is not harmless everywhere (clknetsim's recvmsg then takes
    // the node's next network message, which may be another socket's).
    if (s->tx_waiting.empty()) return;
    drain_error_queue(*s);
}

void EventLoop::note_sent(UdpSock& s, uint64_t token) {
    ++stats_.datagrams_sent;
    if (!s.options.tx_timestamps) return;
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

void EventLoop::handle_error_message(UdpSock& s, msghdr& msg) {
    PacketTimestamps ts;
    const sock_extended_err* ee = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
            scm_timestamping stamps;
            std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
            if (stamps.ts[0].tv_sec != 0 || stamps.ts[0].tv_nsec != 0) ts.software = stamps.ts[0];
            if (stamps.ts[2].tv_sec != 0 || stamps.ts[2].tv_nsec != 0) ts.hardware = stamps.ts[2];
        } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                   (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
            ee = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
        }
    }
    if (ee == nullptr || ee->ee_origin != SO_EE_ORIGIN_TIMESTAMPING) return;
    const uint32_t key = ee->ee_data;
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

void EventLoop::parse_rx_cmsgs(const msghdr& msg, ReceivedDatagram& d) {
    std::optional<timespec> ns_stamp;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
            c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
            timespec t;
            std::memcpy(&t, CMSG_DATA(c), sizeof t);
            if (t.tv_sec != 0 || t.tv_nsec != 0) ns_stamp = t;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
                   c->cmsg_len >= CMSG_LEN(sizeof(scm_timestamping))) {
            scm_timestamping stamps;
            std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
            if (stamps.ts[0].tv_sec != 0 || stamps.ts[0].tv_nsec != 0) d.rx.software = stamps.ts[0];
            if (stamps.ts[2].tv_sec != 0 || stamps.ts[2].tv_nsec != 0) d.rx.hardware = stamps.ts[2];
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
                   c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
            in_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            sockaddr_in sin{};
            sin.sin_family = AF_INET;
            sin.sin_addr = pi.ipi_addr;
            d.local = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
            d.ifindex = pi.ipi_ifindex;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
            in6_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            sockaddr_in6 sin6{};
            sin6.sin6_family = AF_INET6;
            sin6.sin6_addr = pi.ipi6_addr;
            d.local = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
            d.ifindex = static_cast<int>(pi.ipi6_ifindex);
        }
    }
    // The same software stamp; SCM_TIMESTAMPING normally carries it as well.
    if (!d.rx.software) d.rx.software = ns_stamp;
}

size_t EventLoop::build_pktinfo(const Endpoint& from, uint8_t* buf, size_t cap) {
    if (from.empty()) return 0;
    msghdr msg{};
    msg.msg_control = buf;
    msg.msg_controllen = cap;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (from.family() == AF_INET && cap >= CMSG_SPACE(sizeof(in_pktinfo))) {
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
        in_pktinfo pi{};
        pi.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(from.sa())->sin_addr;
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        return CMSG_SPACE(sizeof(in_pktinfo));
    }
    if (from.family() == AF_INET6 && cap >= CMSG_SPACE(sizeof(in6_pktinfo))) {
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
        in6_pktinfo pi{};
        pi.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(from.sa())->sin6_addr;
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        return CMSG_SPACE(sizeof(in6_pktinfo));
    }
    return 0;
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
    if (s.on_receive) s.on_receive(d);
}

uint64_t EventLoop::listen_stream(int fd, AcceptFn on_accept) {
    set_nonblocking(fd);
    auto l = std::make_unique<Listener>();
    l->id = next_id_++;
    l->fd = fd;
    l->on_accept = std::move(on_accept);
    Listener& ref = *l;
    listeners_.emplace(l->id, std::move(l));
    listener_added(ref);
    return ref.id;
}

void EventLoop::close_listener(uint64_t id) {
    Listener* l = listener(id);
    if (l == nullptr || l->closing) return;
    l->closing = true;
    listener_closing(*l);
}

void EventLoop::accepted(Listener& l, int fd) {
    if (l.on_accept) {
        l.on_accept(fd);
    } else {
        close(fd);
    }
}

uint64_t EventLoop::add_stream(int fd, StreamDataFn on_data, StreamCloseFn on_close,
                               StreamDrainedFn on_drained) {
    set_nonblocking(fd);
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = fd;
    c->on_data = std::move(on_data);
    c->on_close = std::move(on_close);
    c->on_drained = std::move(on_drained);
    c->in_buffer.resize(4096);
    Conn& ref = *c;
    conns_.emplace(c->id, std::move(c));
    conn_added(ref);
    return ref.id;
}

void EventLoop::write_stream(uint64_t id, std::span<const uint8_t> data) {
    Conn* c = conn(id);
    if (c == nullptr || c->closing || c->close_when_flushed || data.empty()) return;
    c->out.emplace_back(data.begin(), data.end());
    conn_write_ready(*c);
}

size_t EventLoop::stream_queued_bytes(uint64_t id) const {
    auto it = conns_.find(id);
    if (it == conns_.end()) return 0;
    const Conn& c = *it->second;
    size_t total = 0;
    for (const std::vector<uint8_t>& chunk : c.out) total += chunk.size();
    return total - c.out_offset;
}

void EventLoop::pause_stream(uint64_t id) {
    if (Conn* c = conn(id)) c->paused = true;
}

void EventLoop::resume_stream(uint64_t id) {
    Conn* c = conn(id);
    if (c == nullptr || !c->paused) return;
    c->paused = false;
    if (!c->closing) conn_resumed(*c);
}

void EventLoop::deliver_stream_drained(Conn& c) {
    if (c.on_drained && !c.closing) c.on_drained(c.id);
}

void EventLoop::close_stream(uint64_t id, bool flush) {
    Conn* c = conn(id);
    if (c == nullptr || c->closing) return;
    if (flush && !c->out.empty()) {
        c->close_when_flushed = true;
        return;
    }
    c->closing = true;
    conn_closing(*c);
}

void EventLoop::deliver_stream_data(Conn& c, std::span<const uint8_t> data) {
    if (c.on_data && !c.closing) c.on_data(c.id, data);
}

void EventLoop::finish_udp_close(uint64_t id) {
    auto it = udps_.find(id);
    if (it == udps_.end()) return;
    close(it->second->fd);
    udps_.erase(it);
}

void EventLoop::finish_listener_close(uint64_t id) {
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    close(it->second->fd);
    listeners_.erase(it);
}

void EventLoop::finish_conn_close(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    std::unique_ptr<Conn> c = std::move(it->second);
    conns_.erase(it);
    close(c->fd);
    if (c->on_close) c->on_close(id);
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
    w->closing = true;
    // The callback may be running (this may be it): the watch, and with it
    // the std::function, stays until sweep_closed() at the end of run_once().
    watch_closing(*w);
}

void EventLoop::deliver_readable(FdWatch& w) {
    if (!w.closing && !w.failed && w.on_readable) w.on_readable();
}

uint64_t EventLoop::add_timer(MonoClock::time_point deadline, TimerFn fn) {
    const uint64_t id = next_id_++;
    timers_.emplace(id, std::move(fn));
    timer_heap_.push(Timer{deadline, id});
    return id;
}

bool EventLoop::cancel_timer(uint64_t id) {
    return timers_.erase(id) > 0;
}

std::optional<MonoClock::time_point> EventLoop::next_timer_deadline() const {
    // Cancelled timers stay in the heap until they reach the top; they only
    // cost an early wake-up, which fire_due_timers() absorbs.
    if (timer_heap_.empty()) return std::nullopt;
    return timer_heap_.top().deadline;
}

void EventLoop::fire_due_timers() {
    const auto now = MonoClock::now();
    while (!timer_heap_.empty() && timer_heap_.top().deadline <= now) {
        const Timer t = timer_heap_.top();
        timer_heap_.pop();
        auto it = timers_.find(t.id);
        if (it == timers_.end()) continue;
        TimerFn fn = std::move(it->second);
        timers_.erase(it);
        fn();
    }
    // Drop cancelled timers from the top so the next wake-up is a real one.
    while (!timer_heap_.empty() && timers_.find(timer_heap_.top().id) == timers_.end()) {
        timer_heap_.pop();
    }
}

void EventLoop::watch_signals(const std::vector<int>& signals, SignalFn fn) {
    on_signal_ = std::move(fn);
    sigemptyset(&signal_set_);
    for (int sig : signals) sigaddset(&signal_set_, sig);
    std::string why;
    switch (signal_delivery_) {
        case SignalDelivery::Signalfd:
            // A new set for the same signalfd.
            if (sigprocmask(SIG_BLOCK, &signal_set_, nullptr) != 0) throw_errno("sigprocmask");
            if (sys_->signalfd(signal_fd_, &signal_set_, SFD_NONBLOCK | SFD_CLOEXEC) < 0)
                throw_errno("signalfd");
            return;
        case SignalDelivery::SelfPipe:
        case SignalDelivery::Interrupt:
            restore_signal_handlers();
            if (!install_signal_handlers(why)) note_fallback("sigaction failed (" + why + ")");
            return;
        case SignalDelivery::None:
            break;
    }
    if (try_signalfd(why)) return;
    const std::string chain = "signalfd unusable (" + why + ")";

    // A self-pipe: the handler writes a byte, the loop waits on the read end.
    int p[2] = {-1, -1};
    std::string pipe_why;
    if (!waits_on_foreign_fds()) {
        pipe_why = "the backend cannot wait on a pipe";
    } else if (open_pipe(*sys_, p) != 0) {
        pipe_why = errno_text("pipe");
    } else {
        signal_pipe_write_ = p[1];
        g_signal_pipe.store(p[1]);
        if (install_signal_handlers(why)) {
            signal_fd_ = p[0];
            signal_delivery_ = SignalDelivery::SelfPipe;
            note_fallback(chain + ": signals through a self-pipe");
            signals_added(signal_fd_);
            return;
        }
        g_signal_pipe.store(-1);
        signal_pipe_write_ = -1;
        close(p[0]);
        close(p[1]);
        pipe_why = "sigaction failed (" + why + ")";
    }

    // The handler alone: the wait returns with EINTR, run_once() looks.
    if (install_signal_handlers(why)) {
        signal_delivery_ = SignalDelivery::Interrupt;
        note_fallback(chain + ", self-pipe unusable (" + pipe_why +
                      "): signals interrupt the wait, which lasts at most " +
                      std::to_string(kSignalCheckInterval.count()) + " s");
        return;
    }
    note_fallback(chain + ", sigaction failed (" + why +
                  "): running without signal handling (default dispositions)");
}

bool EventLoop::try_signalfd(std::string& why) {
    sigset_t old;
    if (sigprocmask(SIG_BLOCK, &signal_set_, &old) != 0) {
        why = errno_text("sigprocmask");
        return false;
    }
    const int fd = sys_->signalfd(-1, &signal_set_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd >= 0 && waits_on_foreign_fds()) {
        signal_fd_ = fd;
        signal_delivery_ = SignalDelivery::Signalfd;
        signals_added(signal_fd_);
        return true;
    }
    why = fd < 0 ? errno_text("signalfd") : std::string("the backend cannot wait on it");
    if (fd >= 0) close(fd);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return false;
}

bool EventLoop::install_signal_handlers(std::string& why) {
    struct sigaction sa {};
    sa.sa_handler = on_watched_signal;
    sa.sa_mask = signal_set_;
    // Other calls restart; poll() and select() never do, so the wait still
    // returns with EINTR, which is what the interrupt mode needs.
    sa.sa_flags = SA_RESTART;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sigismember(&signal_set_, sig) != 1) continue;
        struct sigaction old {};
        if (sys_->sigaction(sig, &sa, &old) != 0) {
            why = errno_text("sigaction");
            restore_signal_handlers();
            return false;
        }
        saved_actions_.emplace_back(sig, old);
    }
    // A handler runs only for signals the thread does not block (an earlier
    // signalfd attempt, or the caller, may have blocked them).
    pthread_sigmask(SIG_UNBLOCK, &signal_set_, nullptr);
    return true;
}

void EventLoop::restore_signal_handlers() {
    for (const auto& [sig, old] : saved_actions_) sys_->sigaction(sig, &old, nullptr);
    saved_actions_.clear();
}

void EventLoop::signal_ready() {
    if (signal_delivery_ == SignalDelivery::SelfPipe) {
        // The bytes only wake us; the handler's flags say which signals came.
        char bytes[64];
        while (read(signal_fd_, bytes, sizeof bytes) > 0) {
        }
        deliver_pending_signals();
        return;
    }
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        deliver_signal(info);
    }
}

void EventLoop::deliver_pending_signals() {
    if (signal_delivery_ != SignalDelivery::SelfPipe &&
        signal_delivery_ != SignalDelivery::Interrupt) {
        return;
    }
    // Cleared before the scan: a signal caught during the scan sets it again.
    if (!g_any_signal_pending.exchange(false)) return;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (!g_signal_pending[sig].exchange(false)) continue;
        if (sigismember(&signal_set_, sig) != 1) continue;
        signalfd_siginfo info{};
        info.ssi_signo = static_cast<uint32_t>(sig);
        deliver_signal(info);
    }
}

void EventLoop::deliver_signal(const signalfd_siginfo& info) {
    if (on_signal_) on_signal_(info);
}

EventLoop::UdpSock* EventLoop::udp(uint64_t id) {
    auto it = udps_.find(id);
    return it == udps_.end() ? nullptr : it->second.get();
}

EventLoop::Listener* EventLoop::listener(uint64_t id) {
    auto it = listeners_.find(id);
    return it == listeners_.end() ? nullptr : it->second.get();
}

EventLoop::Conn* EventLoop::conn(uint64_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second.get();
}

EventLoop::FdWatch* EventLoop::fd_watch(uint64_t id) {
    auto it = watches_.find(id);
    return it == watches_.end() ? nullptr : it->second.get();
}

void EventLoop::run_once(std::optional<MonoClock::duration> max_wait) {
    flush_sends();              // anything queued outside a callback (set-up code, tests)
    deliver_pending_signals();  // caught while a callback ran: do not wait first
    std::optional<MonoClock::time_point> deadline = next_timer_deadline();
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
    fire_due_timers();
    flush_sends();
    sweep_closed();
}

void EventLoop::sweep_closed() {
    std::vector<uint64_t> done;
    for (auto& [id, s] : udps_) {
        if (s->closing && s->inflight == 0) done.push_back(id);
    }
    for (uint64_t id : done) finish_udp_close(id);
    done.clear();
    for (auto& [id, l] : listeners_) {
        if (l->closing && l->inflight == 0) done.push_back(id);
    }
    for (uint64_t id : done) finish_listener_close(id);
    done.clear();
    for (auto& [id, c] : conns_) {
        if (c->closing && c->inflight == 0) done.push_back(id);
    }
    for (uint64_t id : done) finish_conn_close(id);
    done.clear();
    for (auto& [id, w] : watches_) {
        if (w->closing && w->inflight == 0) done.push_back(id);
    }
    for (uint64_t id : done) finish_watch_close(id);
}

void EventLoop::run() {
    stopping_ = false;
    while (!stopping_) run_once(std::nullopt);
}

bool io_uring_available(std::string* why) {
    const int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char c = '0';
        const ssize_t n = read(fd, &c, 1);
        close(fd);
        // 1 disables io_uring for unprivileged processes, 2 for everyone.
        // We start as root but drop privileges, so 1 counts too.
        if (n == 1 && c != '0') {
            if (why) *why = std::string("kernel.io_uring_disabled = ") + c;
            return false;
        }
    }
    return true;
}

std::unique_ptr<EventLoop> make_event_loop(const LoopOptions& options, std::string* note) {
    switch (options.choice) {
        case BackendChoice::Poll:
            if (note) *note = "poll backend selected in the configuration";
            return make_poll_loop(options);
        case BackendChoice::IoUring:
            if (note) *note = "io_uring backend selected in the configuration";
            return make_uring_loop(options);
        case BackendChoice::Auto:
            break;
    }
    std::string why;
    if (!io_uring_available(&why)) {
        if (note) *note = "io_uring unavailable (" + why + "), using poll";
        return make_poll_loop(options);
    }
    try {
        auto loop = make_uring_loop(options);
        if (note) *note = "io_uring available";
        return loop;
    } catch (const std::system_error& e) {
        // ENOSYS: kernel without io_uring; EPERM: a container's seccomp
        // profile; anything else: still better to run than to refuse.
        if (note) *note = std::string("io_uring set-up failed (") + e.what() + "), using poll";
        return make_poll_loop(options);
    }
}

}  // namespace nanotime::io
