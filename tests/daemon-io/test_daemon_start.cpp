// The daemon's start on a FakeClock: it takes the loop from the kernel PLL,
// and a control socket it cannot have is a warning, not a reason to stop.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/timex.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "nanotimed/daemon.hpp"

namespace nanotime::daemon {
namespace {

TEST(DaemonStart, TakesThePllAndRunsWithoutAControlSocket) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("nanotimed-start-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string conf = (dir / "nanotimed.toml").string();
    // The socket's directory does not exist: bind() must fail.
    std::ofstream(conf) << "[clock]\ndrift_file = \"\"\nleap_seconds_file = \"\"\n"
                        << "[control]\nsocket = \"" << (dir / "missing" / "ctl.sock").string()
                        << "\"\n";
    config::ParseResult r = config::load_config(conf);
    ASSERT_TRUE(r.config.has_value());
    std::ostringstream out;
    io::RateLimitedLog log(io::LogRateConfig{1000, 0},
                           std::make_shared<spdlog::logger>(
                               "start", std::make_shared<spdlog::sinks::ostream_sink_st>(out)));
    ntp::SplitMix64 random{1};
    auto clock = std::make_unique<io::FakeClock>();
    clock->state_.status = STA_PLL | STA_FLL;
    clock->state_.offset = 40000;
    io::FakeClock* fake = clock.get();
    Daemon daemon(*r.config, conf, io::make_poll_loop(io::LoopOptions{}), std::move(clock), log,
                  random);
    daemon.open_sockets();
    daemon.start();
    EXPECT_NE(out.str().find("no control socket"), std::string::npos) << out.str();
    EXPECT_EQ(fake->state_.status & (STA_PLL | STA_FLL), 0);
    EXPECT_EQ(fake->state_.offset, 0);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nanotime::daemon
