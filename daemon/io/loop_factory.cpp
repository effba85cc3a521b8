// loop_factory.cpp - choosing and making an event loop backend: io_uring
// where the kernel allows it and its ring can be set up, poll otherwise
// (make_event_loop), and the backends' names for logs.
#include <fcntl.h>
#include <unistd.h>

#include <system_error>

#include "io/event_loop.hpp"

namespace nanotime::io {

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
