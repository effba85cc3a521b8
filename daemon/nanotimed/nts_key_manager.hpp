// nts_key_manager.hpp - this server's NTS master keys over time: loaded from
// the key file, rotated and saved on a timer when this host writes the file
// ([nts] key_rotation > 0), or re-read when another host writes it
// (key_rotation = 0: "NTS-KE on one host, NTP on others"), and handed to
// every thread that seals or opens cookies (the NTP server threads, the
// NTS-KE thread) through a SharedKeyStore.
//
// The key sets themselves are immutable (std::shared_ptr<const KeyStore>):
// a rotation makes a new set and publishes it; a thread picks it up when the
// generation it last saw has moved (one atomic load per request).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "config/config.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "nts/key_store.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

// The current key set, shared between threads.
class SharedKeyStore {
  public:
    // The newest set (null before the first publish).
    std::shared_ptr<const nts::KeyStore> get() const;
    // The newest set if it is newer than the generation @seen (which it
    // updates), else null: the cheap per-request check.
    std::shared_ptr<const nts::KeyStore> get_if_newer(uint64_t& seen) const;
    void publish(std::shared_ptr<const nts::KeyStore> store);
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  private:
    mutable std::mutex mutex_;
    std::shared_ptr<const nts::KeyStore> store_;
    std::atomic<uint64_t> generation_{0};
};

struct NtsKeyStatus {
    bool writer = false;      // this host rotates and writes the file
    size_t keys = 0;          // in the current set
    uint32_t sealing_id = 0;  // the key sealing new cookies now (0: none)
    int64_t next_check = 0;   // Unix s: next rotation (writer) or file check (reader)
    uint64_t rotations = 0;   // sets made by rotation (writer)
    uint64_t loads = 0;       // sets read from the file
    uint64_t failures = 0;    // file reads or writes that failed
    std::string last_error;   // the latest failure, "" if none
};

class NtsKeyManager {
  public:
    using UnixNow = std::function<int64_t()>;  // seconds since 1970 on the daemon's clock

    NtsKeyManager(const config::NtsConfig& config, io::EventLoop& loop, io::RateLimitedLog& log,
                  ntp::RandomSource& random, UnixNow now);

    // After privilege drop (the file lives in the daemon's state directory):
    // loads or makes the first set, publishes it, arms the timer.
    void start();

    SharedKeyStore& shared() { return shared_; }
    const NtsKeyStatus& status() const { return status_; }

    // How often a reader looks at the file for a new set (seconds).
    static constexpr int64_t kReaderCheckInterval = 60;

  private:
    bool writer() const { return config_.key_rotation > 0; }
    nts::KeyPolicy policy() const;
    void start_writer();
    void start_reader();
    void rotate();
    void check_file();
    void save(const nts::KeyStore& store);
    void publish(nts::KeyStore store);
    void failed(const std::string& message);
    void arm(int64_t at_unix);

    config::NtsConfig config_;
    io::EventLoop& loop_;
    io::RateLimitedLog& log_;
    ntp::RandomSource& random_;
    UnixNow now_;
    SharedKeyStore shared_;
    NtsKeyStatus status_;
    int64_t file_mtime_ns_ = -1;  // reader: the file version loaded last
};

}  // namespace nanotime::daemon
