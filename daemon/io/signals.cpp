// signals.cpp - how the event loop delivers signals: a signalfd, else a
// self-pipe written by a sigaction handler, else the handler alone
// interrupting the wait (see EventLoop::watch_signals).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "io/event_loop.hpp"

namespace nanotime::io {
namespace {

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
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

}  // namespace

void EventLoop::close_signal_pipe() {
    restore_signal_handlers();
    if (signal_pipe_write_ >= 0) {
        int expected = signal_pipe_write_;
        g_signal_pipe.compare_exchange_strong(expected, -1);
        close(signal_pipe_write_);
        signal_pipe_write_ = -1;
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

}  // namespace nanotime::io
