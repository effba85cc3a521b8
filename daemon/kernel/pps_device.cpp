#include "kernel/pps_device.hpp"

#include <fcntl.h>
#include <sys/timepps.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace nanotime::kernel {
namespace {

[[noreturn]] void fail(int err, const std::string& path, const std::string& what) {
    throw std::system_error(err, std::generic_category(), path + ": " + what);
}

}  // namespace

PpsDevice::PpsDevice(const std::string& path, PpsEdge edge) : path_(path), edge_(edge) {
    fd_ = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0 && (errno == EACCES || errno == EPERM))
        fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);  // enough when capture is already on
    if (fd_ < 0) fail(errno, path, "cannot open");
    try {
        pps_handle_t handle = 0;
        if (time_pps_create(fd_, &handle) < 0) fail(errno, path, "not a PPS device (RFC 2783)");
        int caps = 0;
        if (time_pps_getcap(fd_, &caps) < 0) fail(errno, path, "PPS_GETCAP");
        const int capture = edge == PpsEdge::Assert ? PPS_CAPTUREASSERT : PPS_CAPTURECLEAR;
        if (!(caps & capture))
            fail(EOPNOTSUPP, path,
                 std::string("cannot capture ") + (edge == PpsEdge::Assert ? "assert" : "clear") +
                     " edges");
        if (!(caps & PPS_TSFMT_TSPEC)) fail(EOPNOTSUPP, path, "no timespec timestamps");
        pps_params_t params{};
        if (time_pps_getparams(fd_, &params) < 0) fail(errno, path, "PPS_GETPARAMS");
        if (!(params.mode & capture) || !(params.mode & PPS_TSFMT_TSPEC)) {
            params.mode |= capture | PPS_TSFMT_TSPEC;
            if (time_pps_setparams(fd_, &params) < 0)
                fail(errno, path, "PPS_SETPARAMS (turning edge capture on needs CAP_SYS_TIME)");
        }
    } catch (...) {
        close(fd_);
        fd_ = -1;
        throw;
    }
}

PpsDevice::~PpsDevice() {
    if (fd_ >= 0) close(fd_);
}

int PpsDevice::fetch(PpsFetch& out) const {
    pps_info_t info{};
    const timespec no_wait{0, 0};  // a zero timeout: return at once
    if (time_pps_fetch(fd_, PPS_TSFMT_TSPEC, &info, &no_wait) < 0) return -errno;
    if (edge_ == PpsEdge::Assert) {
        out.sequence = static_cast<uint32_t>(info.assert_sequence);
        out.stamp = info.assert_timestamp;
    } else {
        out.sequence = static_cast<uint32_t>(info.clear_sequence);
        out.stamp = info.clear_timestamp;
    }
    return 0;
}

}  // namespace nanotime::kernel
