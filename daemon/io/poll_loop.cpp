// poll_loop.cpp - the portable backend: poll + recvmmsg/sendmmsg.
//
// Used where io_uring is missing or forbidden, and under clknetsim. Each
// wake-up rebuilds the pollfd array (the daemon has a handful of
// descriptors), drains readable UDP sockets in batches of kBatch datagrams
// and sends queued datagrams with one sendmmsg per kBatch. Watched
// descriptors (watch_fd) are in the array too, for POLLIN: poll is
// level-triggered, so a callback that leaves data unread runs again on the
// next wake-up.
//
// Portable on purpose; every call that may be refused goes through the
// Syscalls table (io/syscalls.hpp):
// - the wait is plain poll(), not ppoll: no signal mask is needed (signals
//   come through a descriptor or interrupt the wait, see watch_signals), and
//   poll is what every emulation intercepts. Its timeout is whole
//   milliseconds, rounded up: rounding down would wake before the timer is
//   due and spin until it is.
// - sendmmsg failing with anything but EAGAIN/ENOBUFS is retried as one
//   sendmsg; if that works, sendmmsg is unusable here (ENOSYS, or an
//   LD_PRELOAD emulation that does not know it) and sendmsg is used from
//   then on. recvmmsg failing with ENOSYS likewise becomes recvmsg.
// - UDP sockets with TX timestamps are also watched for POLLPRI: with
//   SO_SELECT_ERR_QUEUE the kernel reports error-queue data that way too,
//   and it is the only way clknetsim reports it.
// - accept4 refused (ENOSYS, EINVAL) becomes accept + fcntl.
// - waits_on_foreign_fds() checks once that poll() reports an idle pipe as
//   idle. clknetsim's does not (every descriptor it does not simulate is
//   "always ready"), and a signalfd or pipe in the set would then make every
//   poll return at once, without simulated time ever advancing.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "io/event_loop.hpp"
#include "io/loop_objects.hpp"
#include "io/sockaddr.hpp"
#include "io/timestamps.hpp"

namespace nanotime::io {
namespace {

constexpr unsigned kBatch = 32;
constexpr unsigned kRoundsPerWakeup = 8;  // fairness: at most 256 datagrams per socket per wake-up
constexpr size_t kControlSize = kRxControlSize;

}  // namespace

// A timer 0.3 ms away waits 1 ms, not 0: rounding down would spin until it is due.
int poll_timeout_ms(MonoClock::duration d) {
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    if (ns <= 0) return 0;
    const int64_t ms = (ns + 999'999) / 1'000'000;
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

namespace {

class PollLoop final : public EventLoop {
  public:
    explicit PollLoop(const LoopOptions& options) : EventLoop(options) {
        payload_size_ = options.buffer_size;
        buffers_.resize(static_cast<size_t>(kBatch) * payload_size_);
    }

    Backend backend() const override { return Backend::Poll; }
    std::string describe() const override {
        std::string d = "poll (poll, ";
        d += recvmmsg_usable_ ? "recvmmsg" : "recvmsg";
        d += sendmmsg_usable_ ? "/sendmmsg batches of 32" : "/sendmsg";
        d += ", signals: ";
        d += signal_delivery_name(signal_delivery_);
        return d + ")";
    }

    bool waits_on_foreign_fds() override {
        if (!foreign_fds_probed_) {
            foreign_fds_probed_ = true;
            int p[2];
            if (open_pipe(*sys_, p) == 0) {
                pollfd pfd{p[0], POLLIN, 0};
                // An empty pipe must not be readable. Unknown (-1): assume it works.
                foreign_fds_ok_ = sys_->poll(&pfd, 1, 0) <= 0;
                close(p[0]);
                close(p[1]);
            }
        }
        return foreign_fds_ok_;
    }

  protected:
    void udp_added(UdpSock&) override {}
    void udp_closing(UdpSock&) override {}
    void listener_added(Listener&) override {}
    void listener_closing(Listener&) override {}
    void conn_added(Conn&) override {}
    void conn_connecting(Conn&) override {}  // POLLOUT joins the next poll set
    void conn_write_ready(Conn&) override {}
    void conn_resumed(Conn&) override {}  // POLLIN joins the next poll set
    void conn_closing(Conn&) override {}
    void signals_added(int) override {}
    void watch_added(FdWatch&) override {}
    void watch_closing(FdWatch&) override {}  // out of the next poll set

    void wait_and_dispatch(std::optional<MonoClock::time_point> deadline) override {
        // Rebuilt on every wake-up into the same vectors: clear() keeps their
        // capacity, so a wake-up does not allocate.
        std::vector<pollfd>& fds = fds_;
        std::vector<Target>& targets = targets_;
        fds.clear();
        targets.clear();
        for (auto& [id, s] : udps_) {
            if (s->closing) continue;
            short ev = POLLIN;
            if (s->options.any_tx_timestamps()) ev |= POLLPRI;  // error queue (SO_SELECT_ERR_QUEUE)
            if (!s->queue.empty()) ev |= POLLOUT;
            fds.push_back(pollfd{s->fd, ev, 0});
            targets.push_back({kUdp, id});
        }
        for (auto& [id, l] : listeners_) {
            if (l->closing) continue;
            fds.push_back(pollfd{l->fd, POLLIN, 0});
            targets.push_back({kListener, id});
        }
        for (auto& [id, c] : conns_) {
            if (c->closing) continue;
            short ev = c->close_when_flushed || !c->wants_read() ? 0 : POLLIN;
            if (!c->out.empty() || c->connecting) ev |= POLLOUT;
            fds.push_back(pollfd{c->fd, ev, 0});
            targets.push_back({kConn, id});
        }
        if (signal_fd_ >= 0) {
            fds.push_back(pollfd{signal_fd_, POLLIN, 0});
            targets.push_back({kSignal, 0});
        }
        for (auto& [id, w] : watches_) {
            if (w->closing || w->failed) continue;
            fds.push_back(pollfd{w->fd, POLLIN, 0});
            targets.push_back({kWatch, id});
        }
        const int timeout = deadline ? poll_timeout_ms(*deadline - MonoClock::now()) : -1;
        const int n = sys_->poll(fds.data(), fds.size(), timeout);
        if (n <= 0) return;  // timeout or EINTR (a signal: run_once delivers it)
        for (size_t i = 0; i < fds.size(); ++i) {
            const short re = fds[i].revents;
            if (re == 0) continue;
            const Target t = targets[i];
            switch (t.kind) {
                case kUdp:
                    if (UdpSock* s = udp(t.id); s != nullptr && (re & (POLLERR | POLLPRI)))
                        drain_error_queue(*s);
                    if (UdpSock* s = udp(t.id); s != nullptr && (re & POLLIN)) receive(*s);
                    break;
                case kListener:
                    if (Listener* l = listener(t.id); l != nullptr) accept_all(*l);
                    break;
                case kConn:
                    if (Conn* c = conn(t.id); c != nullptr && c->connecting) {
                        complete_connect(*c);  // writable, or failed (POLLERR/POLLHUP)
                        break;
                    }
                    if (Conn* c = conn(t.id); c != nullptr && !c->wants_read() && !c->closing &&
                                              (re & (POLLHUP | POLLERR))) {
                        mark_closing(*c);  // hung up while we were not reading
                    } else if (c != nullptr && (re & (POLLIN | POLLHUP | POLLERR))) {
                        read_conn(*c);
                    }
                    if (Conn* c = conn(t.id); c != nullptr && (re & POLLOUT)) write_conn(*c);
                    break;
                case kSignal:
                    signal_ready();
                    break;
                case kWatch:
                    if (FdWatch* w = fd_watch(t.id)) {
                        // Not a descriptor (closed without unwatch_fd): stop
                        // polling it, or every poll would return at once.
                        if (re & POLLNVAL) {
                            w->failed = true;
                        } else {
                            deliver_readable(*w);  // skips it if an earlier callback unwatched it
                        }
                    }
                    break;
            }
        }
    }

    void flush_sends() override {
        for (auto& [id, s] : udps_) {
            if (!s->closing && !s->queue.empty()) send_queue(*s);
        }
        for (auto& [id, c] : conns_) {
            if (!c->closing && !c->connecting && !c->out.empty()) write_conn(*c);
        }
    }

  private:
    enum Kind : uint8_t { kUdp, kListener, kConn, kSignal, kWatch };
    struct Target {
        Kind kind;
        uint64_t id;
    };

    void receive(UdpSock& s) {
        const uint64_t id = s.id;
        mmsghdr msgs[kBatch];
        iovec iovs[kBatch];
        sockaddr_storage names[kBatch];
        // cppcheck-suppress constVariable // the kernel writes it, through msg_control
        alignas(cmsghdr) uint8_t control[kBatch][kControlSize];
        for (unsigned round = 0; round < kRoundsPerWakeup; ++round) {
            for (unsigned i = 0; i < kBatch; ++i) {
                iovs[i] =
                    iovec{buffers_.data() + static_cast<size_t>(i) * payload_size_, payload_size_};
                msgs[i] = mmsghdr{};
                msgs[i].msg_hdr.msg_name = &names[i];
                msgs[i].msg_hdr.msg_namelen = sizeof names[i];
                msgs[i].msg_hdr.msg_iov = &iovs[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
                msgs[i].msg_hdr.msg_control = control[i];
                msgs[i].msg_hdr.msg_controllen = kControlSize;
            }
            int n = -1;
            if (recvmmsg_usable_) {
                n = sys_->recvmmsg(s.fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
                if (n < 0 && errno == ENOSYS) {
                    recvmmsg_usable_ = false;
                    note_fallback("recvmmsg unavailable (ENOSYS): one recvmsg per datagram");
                }
            }
            if (!recvmmsg_usable_) {
                // One datagram per call, as many calls as a batch would take.
                n = 0;
                while (n < static_cast<int>(kBatch)) {
                    const ssize_t len = sys_->recvmsg(s.fd, &msgs[n].msg_hdr, MSG_DONTWAIT);
                    if (len < 0) break;
                    msgs[n].msg_len = static_cast<unsigned>(len);
                    ++n;
                }
            }
            if (n <= 0) return;
            for (int i = 0; i < n; ++i) {
                const msghdr& h = msgs[i].msg_hdr;
                ReceivedDatagram d;
                d.payload =
                    std::span<const uint8_t>(static_cast<const uint8_t*>(iovs[i].iov_base),
                                             std::min<size_t>(msgs[i].msg_len, payload_size_));
                d.peer = from_sockaddr(static_cast<const sockaddr*>(h.msg_name), h.msg_namelen)
                             .value_or(ntp::SocketAddress::v6_any(0));
                if ((h.msg_flags & MSG_CTRUNC) != 0) ++stats_.rx_control_truncated;
                parse_rx_control(h, d);
                UdpSock* live = udp(id);
                if (live == nullptr || live->closing) return;
                deliver(*live, d, (h.msg_flags & MSG_TRUNC) != 0);
            }
            if (static_cast<unsigned>(n) < kBatch) return;
        }
    }

    void send_queue(UdpSock& s) {
        mmsghdr msgs[kBatch];
        iovec iovs[kBatch];
        sockaddr_storage names[kBatch];
        alignas(cmsghdr) uint8_t control[kBatch][kSendControlSize];
        const int family = socket_family(s.options.bind);
        while (!s.queue.empty()) {
            const unsigned count = sendmmsg_usable_ ? std::min<size_t>(s.queue.size(), kBatch) : 1;
            for (unsigned i = 0; i < count; ++i) {
                PendingSend& p = s.queue[i];
                iovs[i] = iovec{p.data.data(), p.data.size()};
                msgs[i] = mmsghdr{};
                msgs[i].msg_hdr.msg_name = &names[i];
                msgs[i].msg_hdr.msg_namelen = to_sockaddr(p.to, names[i], family);
                msgs[i].msg_hdr.msg_iov = &iovs[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
                const size_t clen =
                    build_send_control(p.from, family, p.tx_stamp, control[i], sizeof control[i]);
                if (clen > 0) {
                    msgs[i].msg_hdr.msg_control = control[i];
                    msgs[i].msg_hdr.msg_controllen = clen;
                }
            }
            int n = sendmmsg_usable_ ? sys_->sendmmsg(s.fd, msgs, count, MSG_DONTWAIT)
                                     : send_one(s.fd, msgs[0].msg_hdr);
            if (n < 0 && sendmmsg_usable_ && !would_block(errno)) {
                // Either the first datagram is bad (unreachable, bad address)
                // or sendmmsg itself is (ENOSYS; an emulation that does not
                // intercept it). sendmsg tells which.
                const int batch_errno = errno;
                n = send_one(s.fd, msgs[0].msg_hdr);
                if (n > 0 || batch_errno == ENOSYS) {
                    sendmmsg_usable_ = false;
                    note_fallback(std::string("sendmmsg failed (") + std::strerror(batch_errno) +
                                  "): one sendmsg per datagram");
                }
            }
            if (n < 0) {
                if (would_block(errno)) return;  // POLLOUT
                // The first datagram failed (unreachable, bad address): drop it.
                ++stats_.send_errors;
                s.queue.pop_front();
                continue;
            }
            for (int i = 0; i < n; ++i) {
                const uint64_t token = s.queue.front().token;
                const bool tx_stamp = s.queue.front().tx_stamp;
                s.queue.pop_front();
                note_sent(s, token, tx_stamp);
                if (s.closing) return;  // a TX-timestamp callback closed it: queue cleared
            }
        }
    }

    static bool would_block(int err) {
        return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
    }

    // One datagram with sendmsg: 1 when sent, -1 with errno.
    int send_one(int fd, const msghdr& msg) {
        return sys_->sendmsg(fd, &msg, MSG_DONTWAIT) < 0 ? -1 : 1;
    }

    void accept_all(const Listener& l) {
        const uint64_t id = l.id;
        for (int i = 0; i < 64; ++i) {
            Listener* live = listener(id);
            if (live == nullptr || live->closing) return;
            int fd = -1;
            if (accept4_usable_) {
                fd = sys_->accept4(live->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0 && (errno == ENOSYS || errno == EINVAL)) {
                    accept4_usable_ = false;
                    note_fallback(std::string("accept4 refused (") + std::strerror(errno) +
                                  "): accept + fcntl");
                }
            }
            if (!accept4_usable_) {
                fd = sys_->accept(live->fd, nullptr, nullptr);
                if (fd >= 0 && !set_nonblock_cloexec(*sys_, fd)) {
                    close(fd);
                    continue;
                }
            }
            if (fd < 0) return;
            accepted(*live, fd);
        }
    }

    void read_conn(Conn& c) {
        const uint64_t id = c.id;
        for (int i = 0; i < 16; ++i) {
            Conn* live = conn(id);
            if (live == nullptr || live->closing || !live->wants_read()) return;
            const ssize_t n =
                recv(live->fd, live->in_buffer.data(), live->in_buffer.size(), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            if (n <= 0) {
                mark_closing(*live);  // peer closed or reset
                return;
            }
            deliver_stream_data(
                *live, std::span<const uint8_t>(live->in_buffer.data(), static_cast<size_t>(n)));
        }
    }

    void write_conn(Conn& c) {
        if (c.out.empty() || c.connecting) return;
        while (!c.out.empty()) {
            const std::vector<uint8_t>& front = c.out.front();
            const ssize_t n = send(c.fd, front.data() + c.out_offset, front.size() - c.out_offset,
                                   MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    output_progress(c);
                    return;
                }
                c.drop_output();
                mark_closing(c);
                return;
            }
            c.consumed(static_cast<size_t>(n));
        }
        output_progress(c);
        if (c.close_when_flushed) {
            mark_closing(c);
        } else {
            deliver_stream_drained(c);
        }
    }

    size_t payload_size_ = 2048;
    std::vector<uint8_t> buffers_;
    std::vector<pollfd> fds_;      // the poll set of the current wake-up
    std::vector<Target> targets_;  // what fds_[i] is
    bool accept4_usable_ = true;
    bool foreign_fds_probed_ = false;
    bool foreign_fds_ok_ = true;  // see waits_on_foreign_fds()
};

}  // namespace

std::unique_ptr<EventLoop> make_poll_loop(const LoopOptions& options) {
    return std::make_unique<PollLoop>(options);
}

}  // namespace nanotime::io
