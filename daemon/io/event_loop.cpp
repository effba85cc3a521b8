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

namespace nanotime::io {
namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

void set_opt(int fd, int level, int name, int value, const char* what) {
    if (setsockopt(fd, level, name, &value, sizeof value) != 0) throw_errno(what);
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

EventLoop::~EventLoop() {
    for (auto& [id, s] : udps_) close(s->fd);
    for (auto& [id, l] : listeners_) close(l->fd);
    for (auto& [id, c] : conns_) close(c->fd);
    if (signal_fd_ >= 0) close(signal_fd_);
    // Watched descriptors (watches_) belong to their callers.
}

void EventLoop::set_nonblocking(int fd) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throw_errno("fcntl O_NONBLOCK");
}

uint64_t EventLoop::open_udp(const UdpOptions& options, UdpReceiveFn on_receive,
                             TxTimestampFn on_tx_timestamp) {
    if (options.bind.empty()) throw std::system_error(EINVAL, std::generic_category(), "bind");
    const int family = options.bind.family();
    const int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno("socket");
    try {
        if (family == AF_INET6)
            set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6only, "IPV6_V6ONLY");
        if (options.reuse_port) set_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
        if (options.pktinfo) {
            if (family == AF_INET)
                set_opt(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
            else
                set_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
        }
        int ts = 0;
        if (options.rx_timestamps) {
            ts |= SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_RX_HARDWARE |
                  SOF_TIMESTAMPING_RAW_HARDWARE | SOF_TIMESTAMPING_SOFTWARE;
        }
        if (options.tx_timestamps) {
            ts |= SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
                  SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
        }
        if (ts != 0) set_opt(fd, SOL_SOCKET, SO_TIMESTAMPING, ts, "SO_TIMESTAMPING");
        // The kernel stamps received packets only while its global "someone
        // wants timestamps" static key is on, and switching that key on (the
        // first timestamping socket on the host) happens later, in a work
        // item: datagrams that arrive in between have no stamp, and
        // SO_TIMESTAMPING alone reports none for them. SO_TIMESTAMPNS makes
        // recvmsg() fill in the current time for such a packet (the
        // "race between timestamp enabling and packet receiving" case in
        // __sock_recv_timestamp), and SCM_TIMESTAMPING then carries it too.
        if (options.rx_timestamps) set_opt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
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
    const uint64_t id = s.id;
    for (int round = 0; round < 256; ++round) {
        alignas(cmsghdr) uint8_t control[512];
        uint8_t data[64];
        iovec iov{data, sizeof data};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        if (recvmsg(s.fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                // POLLERR without a queued message is a pending socket error
                // (an ICMP unreachable, say); reading SO_ERROR clears it.
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            }
            return;
        }
        PacketTimestamps ts;
        const sock_extended_err* ee = nullptr;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
                scm_timestamping stamps;
                std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
                if (stamps.ts[0].tv_sec != 0 || stamps.ts[0].tv_nsec != 0)
                    ts.software = stamps.ts[0];
                if (stamps.ts[2].tv_sec != 0 || stamps.ts[2].tv_nsec != 0)
                    ts.hardware = stamps.ts[2];
            } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                       (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
                ee = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
            }
        }
        if (ee == nullptr || ee->ee_origin != SO_EE_ORIGIN_TIMESTAMPING) continue;
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
        if (udp(id) == nullptr || s.closing) return;  // a callback closed the socket
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

void EventLoop::deliver(UdpSock& s, ReceivedDatagram& d) {
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

uint64_t EventLoop::add_stream(int fd, StreamDataFn on_data, StreamCloseFn on_close) {
    set_nonblocking(fd);
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = fd;
    c->on_data = std::move(on_data);
    c->on_close = std::move(on_close);
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
    sigemptyset(&signal_set_);
    for (int sig : signals) sigaddset(&signal_set_, sig);
    if (sigprocmask(SIG_BLOCK, &signal_set_, nullptr) != 0) throw_errno("sigprocmask");
    if (signal_fd_ >= 0) {
        if (signalfd(signal_fd_, &signal_set_, SFD_NONBLOCK | SFD_CLOEXEC) < 0)
            throw_errno("signalfd");
        on_signal_ = std::move(fn);
        return;
    }
    signal_fd_ = signalfd(-1, &signal_set_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) throw_errno("signalfd");
    on_signal_ = std::move(fn);
    signals_added(signal_fd_);
}

void EventLoop::signal_ready() {
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
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
    flush_sends();  // anything queued outside a callback (set-up code, tests)
    std::optional<MonoClock::time_point> deadline = next_timer_deadline();
    if (max_wait) {
        const auto limit = MonoClock::now() + *max_wait;
        if (!deadline || limit < *deadline) deadline = limit;
    }
    ++stats_.wakeups;
    wait_and_dispatch(deadline);
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
