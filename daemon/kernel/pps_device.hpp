// pps_device.hpp - a Linux /dev/ppsN read through the RFC 2783 API.
//
// pps-tools' <sys/timepps.h> maps RFC 2783 onto the Linux PPS ioctls. The
// device stamps each edge with CLOCK_REALTIME in its interrupt handler; we
// only read the latest stamp and its sequence number, never waiting
// (time_pps_fetch with a zero timeout), so the event loop never blocks.
#pragma once

#include <string>

#include "kernel/pps_bridge.hpp"

namespace nanotime::kernel {

enum class PpsEdge { Assert, Clear };

class PpsDevice {
  public:
    // Opens @path, checks it is a PPS device that can capture @edge with
    // timespec stamps, and turns capture of that edge on if it is off (needs
    // CAP_SYS_TIME; the other edge's setting is kept). Throws
    // std::system_error with the path and the reason.
    PpsDevice(const std::string& path, PpsEdge edge);
    ~PpsDevice();
    PpsDevice(const PpsDevice&) = delete;
    PpsDevice& operator=(const PpsDevice&) = delete;

    // The captured edge's latest sequence number and stamp; -errno on failure.
    int fetch(PpsFetch& out) const;

    const std::string& path() const { return path_; }
    PpsEdge edge() const { return edge_; }

  private:
    std::string path_;
    PpsEdge edge_;
    int fd_ = -1;
};

}  // namespace nanotime::kernel
