// timex_names.hpp - names of the kernel clock's status bits (STA_*) and
// states (TIME_*) as ntp_adjtime reports them. Header-only, with nothing of
// the daemon's dependencies, so that tools (tools/demo) print the same names
// as nanotimectl.
#pragma once

#include <sys/timex.h>

#include <string>
#include <vector>

namespace nanotime::io {

struct StatusFlag {
    int bit;
    const char* name;
};

// Every STA_* bit, lowest first.
inline constexpr StatusFlag kStatusFlags[] = {
    {STA_PLL, "STA_PLL"},
    {STA_PPSFREQ, "STA_PPSFREQ"},
    {STA_PPSTIME, "STA_PPSTIME"},
    {STA_FLL, "STA_FLL"},
    {STA_INS, "STA_INS"},
    {STA_DEL, "STA_DEL"},
    {STA_UNSYNC, "STA_UNSYNC"},
    {STA_FREQHOLD, "STA_FREQHOLD"},
    {STA_PPSSIGNAL, "STA_PPSSIGNAL"},
    {STA_PPSJITTER, "STA_PPSJITTER"},
    {STA_PPSWANDER, "STA_PPSWANDER"},
    {STA_PPSERROR, "STA_PPSERROR"},
    {STA_CLOCKERR, "STA_CLOCKERR"},
    {STA_NANO, "STA_NANO"},
    {STA_MODE, "STA_MODE"},
    {STA_CLK, "STA_CLK"},
};

// STA_* flag names set in @status, e.g. {"STA_PLL", "STA_NANO"}.
inline std::vector<std::string> status_flag_names(int status) {
    std::vector<std::string> out;
    for (const StatusFlag& f : kStatusFlags) {
        if (status & f.bit) out.emplace_back(f.name);
    }
    return out;
}

// The same joined with @separator, "-" when none is set:
// "STA_PLL|STA_NANO".
inline std::string status_flags_string(int status, const char* separator = "|") {
    std::string out;
    for (const std::string& name : status_flag_names(status)) {
        if (!out.empty()) out += separator;
        out += name;
    }
    return out.empty() ? "-" : out;
}

// TIME_OK ... TIME_ERROR, "unknown" for anything else.
inline const char* clock_state_name(int state) {
    switch (state) {
        case TIME_OK:
            return "TIME_OK";
        case TIME_INS:
            return "TIME_INS";
        case TIME_DEL:
            return "TIME_DEL";
        case TIME_OOP:
            return "TIME_OOP";
        case TIME_WAIT:
            return "TIME_WAIT";
        case TIME_ERROR:
            return "TIME_ERROR";
        default:
            return "unknown";
    }
}

}  // namespace nanotime::io
