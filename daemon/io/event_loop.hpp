// event_loop.hpp - the daemon's one event loop, with two backends.
//
// Everything the daemon does with the outside world goes through here: UDP
// datagrams with kernel RX/TX timestamps, stream sockets (the control socket
// now, NTS-KE and the broker later: accepted, added and outbound TCP, with
// write back-pressure; TLS and limits sit on top in stream_server.hpp),
// timers on CLOCK_MONOTONIC, signals, and readability of descriptors that
// other code owns and reads itself (the generic-netlink kernel channel:
// libnl does the reading, the loop only says when). Protocol code never
// sees a file descriptor: it gets bytes, addresses and timestamps in
// callbacks and hands bytes back with send_udp()/write_stream().
//
// Backends:
//   IoUring  multishot recvmsg into a provided buffer ring (single-shot
//            re-armed recvmsg when the kernel lacks multishot, < 6.0), sends
//            batched into one io_uring_enter, accept/recv/send on streams,
//            one IORING_OP_TIMEOUT for the earliest timer, signalfd reads,
//            a single-shot POLLIN poll per watched descriptor, re-armed after
//            each callback (level-triggered; see uring_loop.cpp).
//   Poll     poll + recvmmsg/sendmmsg, for kernels or containers without
//            io_uring; watched descriptors join the poll set. Portable on
//            purpose (it is also what runs under the clknetsim simulator):
//            plain poll() with a timeout in whole milliseconds rounded up,
//            sendmsg/recvmsg where the batch calls fail, TX timestamps on
//            POLLPRI (SO_SELECT_ERR_QUEUE) as well as POLLERR.
//
// Portability (both backends; io/syscalls.hpp is the seam the tests use):
// sockets made with fcntl where SOCK_NONBLOCK|SOCK_CLOEXEC is refused;
// timestamping options that are refused are left off (the datagrams then
// carry no kernel stamp, and the daemon uses its own clock reading);
// signals through a signalfd, else a self-pipe written by a sigaction
// handler, else the handler alone interrupting the wait (see
// watch_signals). Every fallback taken is reported once through
// set_fallback_log() and listed by fallbacks().
//
// Both backends share this base class, so the two differ only in how they
// wait and move bytes. Its parts, one file each: event_loop.cpp (UDP
// sockets, TX-timestamp bookkeeping, watched descriptors, the iteration),
// udp_socket.cpp (socket options), timestamps.cpp (control messages, pure),
// sockaddr.cpp (ntp::SocketAddress to and from sockaddr, pure),
// timer_queue.cpp, streams.cpp, signals.cpp, loop_factory.cpp (choosing a
// backend); loop_objects.hpp holds the per-object state the backends share.
//
// Threading: single-threaded; a loop and everything it owns belong to the
// thread that calls run(). Callbacks may call any method, including closing
// the socket they are called for.
#pragma once

#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/syscalls.hpp"
#include "io/timer_queue.hpp"
#include "net/socket_address.hpp"

namespace nanotime::io {

enum class Backend { IoUring, Poll };
enum class BackendChoice { Auto, IoUring, Poll };
const char* backend_name(Backend b);

// Kernel timestamps of one datagram. software is CLOCK_REALTIME; hardware is
// the NIC's clock (raw, untranslated), present only where the NIC stamps.
struct PacketTimestamps {
    std::optional<timespec> software;
    std::optional<timespec> hardware;
};

struct ReceivedDatagram {
    uint64_t socket = 0;
    std::span<const uint8_t> payload;
    // The sender; IPv4-mapped IPv6 arrives as IPv4 (io/sockaddr.hpp). [::]:0
    // if the kernel named none (never, for UDP over IPv4 or IPv6).
    ntp::SocketAddress peer;
    std::optional<ntp::SocketAddress> local;  // destination address (pktinfo); port 0
    int ifindex = 0;                          // interface it arrived on (pktinfo), 0 if unknown
    PacketTimestamps rx;
};

struct TxTimestamp {
    uint64_t socket = 0;
    uint64_t token = 0;  // the value send_udp() returned
    PacketTimestamps tx;
};

struct UdpOptions {
    ntp::SocketAddress bind;  // the socket's family is the address's (port 0: any)
    bool reuse_port = false;
    bool rx_timestamps = true;   // SO_TIMESTAMPING RX_SOFTWARE|RX_HARDWARE|RAW_HARDWARE|SOFTWARE,
                                 // + SO_TIMESTAMPNS (see open_udp)
    bool tx_timestamps = false;  // + TX_SOFTWARE|OPT_ID|OPT_TSONLY, read from MSG_ERRQUEUE
    // + OPT_ID|OPT_TSONLY only: the kernel stamps just the datagrams sent
    // with send_udp(..., want_tx_timestamp) (an SO_TIMESTAMPING control
    // message on that sendmsg), so a socket whose other datagrams need no
    // stamp (the server's) pays nothing for them. Ignored with tx_timestamps.
    bool tx_timestamps_on_request = false;
    bool pktinfo = true;  // learn the destination address of each datagram
    bool v6only = true;

    // Are TX stamps read from this socket's error queue?
    bool any_tx_timestamps() const { return tx_timestamps || tx_timestamps_on_request; }
};

using UdpReceiveFn = std::function<void(const ReceivedDatagram&)>;
using TxTimestampFn = std::function<void(const TxTimestamp&)>;
using AcceptFn = std::function<void(int fd)>;  // the callee owns fd (add_stream or close)
using StreamDataFn = std::function<void(uint64_t conn, std::span<const uint8_t> data)>;
using StreamCloseFn = std::function<void(uint64_t conn)>;
using StreamDrainedFn = std::function<void(uint64_t conn)>;
// connect_stream()'s outcome: @error 0 when connected, else the errno
// (ECONNREFUSED, ETIMEDOUT, ...); on_close follows a failure.
using ConnectFn = std::function<void(uint64_t conn, int error)>;
using TimerFn = std::function<void()>;
using SignalFn = std::function<void(const signalfd_siginfo&)>;
using ReadableFn = std::function<void()>;

struct LoopOptions {
    BackendChoice choice = BackendChoice::Auto;
    unsigned ring_entries = 256;     // io_uring SQ size
    unsigned buffer_count = 256;     // provided receive buffers (power of two)
    unsigned buffer_size = 2048;     // bytes per receive buffer, headers included
    bool force_single_shot = false;  // io_uring: act as on a kernel without multishot
    // The thread that makes the loop is the only one that ever runs it
    // (io_uring: SINGLE_ISSUER|DEFER_TASKRUN, see uring_ring.hpp). False for
    // a loop made on one thread and run on another (server workers).
    bool runs_on_creating_thread = true;
    // The system calls that may be refused; null: libc's. Tests inject failures here.
    const Syscalls* syscalls = nullptr;
};

// How watch_signals() delivers signals, best first.
enum class SignalDelivery {
    None,       // watch_signals() not called, or no way found: default dispositions
    Signalfd,   // blocked, read from a signalfd the loop waits on
    SelfPipe,   // a sigaction handler writes a byte to a pipe the loop waits on
    Interrupt,  // a sigaction handler only interrupts the wait (EINTR); the wait is
                // bounded by kSignalCheckInterval for a signal that arrives just before it
};
const char* signal_delivery_name(SignalDelivery d);

// The longest wait in SignalDelivery::Interrupt mode: a signal that arrives
// between the last check and the start of poll() is seen this late at most.
inline constexpr std::chrono::seconds kSignalCheckInterval{1};

// Control-message room each received datagram gets from a backend. It holds
// everything open_udp() asks for (SCM_TIMESTAMPING, SCM_TIMESTAMPNS, IPv6
// pktinfo, the largest set; event_loop.cpp checks it at compile time), so
// MSG_CTRUNC, counted in LoopStats::rx_control_truncated, should stay 0.
inline constexpr size_t kRxControlSize = 256;

struct LoopStats {
    uint64_t datagrams_received = 0;
    uint64_t rx_control_truncated = 0;  // datagrams whose control messages were cut (MSG_CTRUNC)
    uint64_t datagrams_truncated = 0;   // larger than the receive buffer (MSG_TRUNC): dropped
    uint64_t datagrams_sent = 0;
    uint64_t send_errors = 0;
    uint64_t tx_timestamps = 0;
    uint64_t wakeups = 0;
};

// Per-object state, shared by the base class and the backends (loop_objects.hpp).
struct UdpSock;
struct Listener;
struct Conn;
struct FdWatch;

class EventLoop {
  public:
    virtual ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    virtual Backend backend() const = 0;
    // One line for logs: backend and the features in use.
    virtual std::string describe() const = 0;

    // UDP. open_udp throws std::system_error when the socket cannot be made
    // or bound. The returned id stays valid until close_udp().
    uint64_t open_udp(const UdpOptions& options, UdpReceiveFn on_receive,
                      TxTimestampFn on_tx_timestamp = {});
    void close_udp(uint64_t socket);
    // The address the socket is bound to (the port the kernel chose, for 0);
    // nothing for an unknown socket.
    std::optional<ntp::SocketAddress> local_address(uint64_t socket) const;
    // Queues a datagram; queued datagrams leave in one batch at the end of the
    // current loop iteration. @from selects the source address on a wildcard
    // socket (the local address a request came to). Returns a token that
    // comes back with the TX timestamp (if the socket asked for them), 0 when
    // the socket is unknown. An IPv4 @to on an AF_INET6 socket (v6only off)
    // leaves as IPv4-mapped IPv6. @want_tx_timestamp: on a socket with
    // tx_timestamps_on_request, have this datagram stamped (the token then
    // comes back through on_tx_timestamp); sockets with tx_timestamps stamp
    // every datagram anyway.
    uint64_t send_udp(uint64_t socket, const ntp::SocketAddress& to, std::span<const uint8_t> data,
                      const ntp::SocketAddress* from = nullptr, bool want_tx_timestamp = false);
    // Reads the socket's error queue now and reports the TX timestamps found,
    // before they would arrive through the loop: a reply can overtake the
    // stamp of its own request. No-op without TX stamps.
    void collect_tx_timestamps(uint64_t socket);

    // Streams. listen_stream takes a bound, listening socket (the loop makes it
    // non-blocking and owns it); add_stream takes a connected one.
    uint64_t listen_stream(int fd, AcceptFn on_accept);
    void close_listener(uint64_t listener);
    // @on_drained (optional) runs whenever the last queued byte of @conn has
    // been handed to the kernel: what a server that keeps one reply in
    // flight waits for before it answers the next request.
    uint64_t add_stream(int fd, StreamDataFn on_data, StreamCloseFn on_close,
                        StreamDrainedFn on_drained = {});
    // Outbound TCP: a non-blocking connect to @to (IPv4 or IPv6). The id
    // is usable at once: writes are queued and leave once connected.
    // @on_connected runs once with the outcome; a failed connect then
    // closes (on_close). The wait for the connection is a POLLOUT poll on
    // both backends (the ring needs no CONNECT opcode, see uring_ring.hpp).
    uint64_t connect_stream(const ntp::SocketAddress& to, ConnectFn on_connected,
                            StreamDataFn on_data, StreamCloseFn on_close,
                            StreamDrainedFn on_drained = {});
    void write_stream(uint64_t conn, std::span<const uint8_t> data);
    // Bytes queued on @conn and not yet handed to the kernel (0 if unknown).
    size_t stream_queued_bytes(uint64_t conn) const;
    // Write back-pressure: once more than @bytes are queued on @conn the
    // loop stops reading it (as pause_stream) until the queue drains to
    // half of @bytes. write_stream() still queues everything it is given:
    // the owner bounds what it writes per byte it reads. 0: no cap.
    void set_stream_output_cap(uint64_t conn, size_t bytes);
    // Is @conn over its output cap (not being read for that reason)?
    bool stream_over_cap(uint64_t conn) const;
    // Stops reading @conn (the kernel's socket buffer fills and the peer's
    // writes block) until resume_stream(). At most one receive already in
    // flight (io_uring, in_buffer's size) may still be delivered. A peer
    // that hangs up while paused is closed.
    void pause_stream(uint64_t conn);
    void resume_stream(uint64_t conn);
    // Closes after queued writes are sent (or at once if @flush is false);
    // on_close runs once, for peer closes and for these.
    void close_stream(uint64_t conn, bool flush = true);

    // Timers on CLOCK_MONOTONIC. Timers fire in deadline order, equal
    // deadlines in the order they were added.
    uint64_t add_timer(MonoClock::time_point deadline, TimerFn fn);
    uint64_t add_timer_after(MonoClock::duration delay, TimerFn fn) {
        return add_timer(MonoClock::now() + delay, std::move(fn));
    }
    bool cancel_timer(uint64_t timer);

    // Delivers @signals through the loop (@fn runs on the loop's thread with
    // ssi_signo set; the other siginfo fields only with a signalfd). Tries,
    // in order: block them and read a signalfd; a sigaction handler writing
    // to a self-pipe; the handler alone, interrupting the wait. A signalfd or
    // pipe the backend cannot wait on (poll() reporting an idle pipe as
    // readable, as clknetsim's does) counts as unusable. If even sigaction
    // fails the dispositions stay as they were (a warning says so). Call it
    // before the seccomp filter (signalfd4 and pipe2 are not allowed after).
    // The handler modes are process-wide: one loop per process may use them.
    void watch_signals(const std::vector<int>& signals, SignalFn fn);
    SignalDelivery signal_delivery() const { return signal_delivery_; }

    // Can the backend wait on a descriptor that is not one of its sockets
    // (a pipe, a signalfd, a socket pair)? False where poll() cannot be
    // trusted for them. The resolver asks before it makes its wake-up pair.
    virtual bool waits_on_foreign_fds() { return true; }

    // Fallbacks taken (once each, in order), for the log: "sendmmsg failed
    // (...): one sendmsg per datagram", say. @fn also gets those already
    // taken. Other objects that work around something (the resolver) report here too.
    using FallbackFn = std::function<void(const std::string&)>;
    void set_fallback_log(FallbackFn fn);
    void note_fallback(const std::string& what);
    const std::vector<std::string>& fallbacks() const { return fallbacks_; }
    const Syscalls& syscalls() const { return *sys_; }

    // Calls @fn from the loop whenever @fd is readable (level-triggered: again
    // on every iteration while data remains). The loop does not own @fd: call
    // unwatch_fd() before closing it. Returns an id (never 0).
    // "Readable" is poll(2)'s: a read would not block, so a hang-up or a
    // pending error (POLLHUP, POLLERR) counts too; unwatch on EOF, or @fn
    // runs on every iteration. A descriptor the kernel reports as invalid
    // (closed without unwatch_fd(), or never open) is dropped silently: @fn
    // no longer runs, and the id still needs unwatch_fd(). @fn normally finds
    // data, but should read without blocking (O_NONBLOCK or MSG_DONTWAIT):
    // another callback may have read the descriptor first.
    uint64_t watch_fd(int fd, ReadableFn fn);
    // Stops watching; safe from inside the fd's own callback and for unknown ids.
    // After it returns the callback never runs again (the fd may be closed at once).
    void unwatch_fd(uint64_t watch);

    // One iteration: wait for events (at most @max_wait, forever if empty),
    // dispatch them, fire due timers, flush queued sends.
    void run_once(std::optional<MonoClock::duration> max_wait);
    // Until stop(). Unlike a bare run_once(), an iteration may leave its
    // queued sends for the next iteration's wait to hand over in the same
    // system call (io_uring); they leave before run() waits for anything.
    void run();
    void stop() { stopping_ = true; }
    bool stopping() const { return stopping_; }

    const LoopStats& stats() const { return stats_; }

  protected:
    explicit EventLoop(const LoopOptions& options);

    // Backend hooks.
    virtual void udp_added(UdpSock& s) = 0;
    virtual void udp_closing(UdpSock& s) = 0;  // cancel; call finish_udp_close when drained
    virtual void listener_added(Listener& l) = 0;
    virtual void listener_closing(Listener& l) = 0;
    virtual void conn_added(Conn& c) = 0;        // connected: read (and write what is queued)
    virtual void conn_connecting(Conn& c) = 0;   // connect in progress: wait for POLLOUT
    virtual void conn_write_ready(Conn& c) = 0;  // data was queued on c.out
    virtual void conn_resumed(Conn& c) = 0;      // resume_stream(): read again
    virtual void conn_closing(Conn& c) = 0;
    virtual void signals_added(int signal_fd) = 0;
    virtual void watch_added(FdWatch& w) = 0;
    // Cancel; the base forgets w once w.inflight is 0. The caller may close
    // w.fd as soon as this returns.
    virtual void watch_closing(FdWatch& w) = 0;
    // Waits until @deadline (none: forever) or an event, and dispatches events.
    virtual void wait_and_dispatch(std::optional<MonoClock::time_point> deadline) = 0;
    // Hands the queued datagrams of every socket to the kernel.
    virtual void flush_sends() = 0;

    // Shared helpers for the backends.
    void set_nonblocking(int fd) const;
    // Reads the socket's error queue (recvmmsg batches until one comes back
    // short, or recvmsg until EAGAIN) and reports TX timestamps.
    void drain_error_queue(UdpSock& s);
    // One message from the error queue: a TX timestamp is matched to its token.
    void handle_error_message(UdpSock& s, const msghdr& msg);
    // A datagram reached the kernel: give it its OPT_ID key if the kernel
    // stamps it (every datagram on a tx_timestamps socket, else those sent
    // with a @tx_stamp request: the kernel counts only stamped ones).
    void note_sent(UdpSock& s, uint64_t token, bool tx_stamp);
    // Hands @d to s's owner; a @truncated one (MSG_TRUNC) is counted and dropped.
    void deliver(UdpSock& s, ReceivedDatagram& d, bool truncated);
    // A second after open_udp(), turns SO_TIMESTAMPNS off again (a control
    // message per datagram that SO_TIMESTAMPING duplicates by then).
    void end_rx_stamp_bridge(UdpSock& s);
    void deliver_stream_data(Conn& c, std::span<const uint8_t> data);
    // c.out has just become empty: tell the owner (the callback may write,
    // pause, resume or close).
    void deliver_stream_drained(Conn& c);
    // Some of c.out reached the kernel: lift the output cap's pause once
    // the queue is down to half the cap.
    void output_progress(Conn& c);
    // A connecting socket is writable or failed: SO_ERROR says which.
    void complete_connect(Conn& c);
    void finish_connect(Conn& c, int error);
    // A new connection object for @fd (4 KiB receive buffer), not yet armed.
    Conn& new_conn(int fd, StreamDataFn on_data, StreamCloseFn on_close,
                   StreamDrainedFn on_drained);
    // Runs w's callback unless it was unwatched or has failed.
    void deliver_readable(FdWatch& w);
    // The backend has no more operations on the object: close the fd and forget it.
    void finish_udp_close(uint64_t id);
    void finish_listener_close(uint64_t id);
    void finish_conn_close(uint64_t id);
    void finish_watch_close(uint64_t id);  // forgets the watch; the fd stays open
    // Finishes closes whose objects have no backend operation in flight.
    // Walks every object map, so it does nothing unless mark_closing() ran
    // since the last sweep or a closing object was still busy then.
    void sweep_closed();
    // The only way an object's closing flag is set: it also tells the next
    // sweep_closed() that there is work (the sweep ran each iteration,
    // ~100 instructions a served request, to find nothing).
    template <typename LoopObject>
    void mark_closing(LoopObject& object) {
        object.closing = true;
        sweep_pending_ = true;
    }
    void accepted(Listener& l, int fd);
    // signal_fd_ is readable: read the siginfos (signalfd) or the pipe's
    // bytes (self-pipe) and deliver.
    void signal_ready();
    void deliver_signal(const signalfd_siginfo& info);
    // Delivers what the sigaction handler recorded (self-pipe and interrupt modes).
    void deliver_pending_signals();

    UdpSock* udp(uint64_t id);
    Listener* listener(uint64_t id);
    Conn* conn(uint64_t id);
    FdWatch* fd_watch(uint64_t id);

    LoopOptions options_;
    const Syscalls* sys_;  // never null
    LoopStats stats_;
    std::map<uint64_t, std::unique_ptr<UdpSock>> udps_;
    std::map<uint64_t, std::unique_ptr<Listener>> listeners_;
    std::map<uint64_t, std::unique_ptr<Conn>> conns_;
    std::map<uint64_t, std::unique_ptr<FdWatch>> watches_;
    int signal_fd_ = -1;  // signalfd, or the self-pipe's read end: what the backend waits on
    sigset_t signal_set_{};
    SignalFn on_signal_;
    SignalDelivery signal_delivery_ = SignalDelivery::None;
    // Batch calls that failed once in a way that says they are unavailable:
    // the single-datagram calls are used from then on.
    bool sendmmsg_usable_ = true;
    bool recvmmsg_usable_ = true;
    // Inside run(): flush_sends() may leave submission to the next wait.
    bool running_ = false;
    // Some object is closing: sweep_closed() has work (see mark_closing()).
    bool sweep_pending_ = false;

  private:
    bool try_signalfd(std::string& why);
    bool install_signal_handlers(std::string& why);
    void restore_signal_handlers();
    // Destruction: the self-pipe's write end closed, the handler told.
    void close_signal_pipe();

    int signal_pipe_write_ = -1;                                   // self-pipe: the handler's end
    std::vector<std::pair<int, struct sigaction>> saved_actions_;  // restored on destruction
    std::vector<std::string> fallbacks_;
    FallbackFn fallback_log_;

    TimerQueue timers_;
    uint64_t next_id_ = 1;
    uint64_t next_token_ = 1;
    bool stopping_ = false;
};

// Is io_uring usable here? Fills @why when it is not.
bool io_uring_available(std::string* why);

// Makes a loop. Auto picks io_uring when io_uring_available() and ring set-up
// succeeds, otherwise poll, and says why in @note. An explicit IoUring that
// cannot be set up throws std::system_error.
std::unique_ptr<EventLoop> make_event_loop(const LoopOptions& options, std::string* note = nullptr);

// A TCP socket bound to @bind and listening (SO_REUSEADDR; IPv6 sockets
// v6-only), for listen_stream(). Set-up time only: made before the seccomp
// filter. Throws std::system_error.
int open_tcp_listener(const ntp::SocketAddress& bind, int backlog = 128);

std::unique_ptr<EventLoop> make_uring_loop(const LoopOptions& options);
std::unique_ptr<EventLoop> make_poll_loop(const LoopOptions& options);

// The poll backend's timeout for a wait of @d: whole milliseconds rounded up
// (never 0 for a deadline still ahead), 0 when due, at most INT_MAX.
int poll_timeout_ms(MonoClock::duration d);

}  // namespace nanotime::io
