// stamp_source.hpp - where a packet's transmit or receive time came from:
// the daemon's clock reading, the kernel's software stamp (SO_TIMESTAMPING),
// or the NIC's hardware stamp. Shown per source and used by the server's
// interleaved mode (server/interleaved_table.hpp).
#pragma once

#include <cstdint>

namespace nanotime::ntp {

enum class StampSource : uint8_t { Daemon, Kernel, Hardware };

// "daemon", "kernel", "hardware" (chronyc ntpdata's words, lower case).
constexpr const char* stamp_source_name(StampSource s) {
    switch (s) {
        case StampSource::Daemon:
            return "daemon";
        case StampSource::Kernel:
            return "kernel";
        case StampSource::Hardware:
            return "hardware";
    }
    return "daemon";
}

}  // namespace nanotime::ntp
