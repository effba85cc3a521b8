// nts_key_manager.cpp - NTS master keys over time (see nts_key_manager.hpp).
#include "nanotimed/nts_key_manager.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "nts/key_store_file.hpp"

namespace nanotime::daemon {

std::shared_ptr<const nts::KeyStore> SharedKeyStore::get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return store_;
}

std::shared_ptr<const nts::KeyStore> SharedKeyStore::get_if_newer(uint64_t& seen) const {
    if (generation_.load(std::memory_order_acquire) == seen) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    seen = generation_.load(std::memory_order_relaxed);
    return store_;
}

void SharedKeyStore::publish(std::shared_ptr<const nts::KeyStore> store) {
    std::lock_guard<std::mutex> lock(mutex_);
    store_ = std::move(store);
    generation_.fetch_add(1, std::memory_order_release);
}

NtsKeyManager::NtsKeyManager(const config::NtsConfig& config, io::EventLoop& loop,
                             io::RateLimitedLog& log, ntp::RandomSource& random, UnixNow now)
    : config_(config), loop_(loop), log_(log), random_(random), now_(std::move(now)) {
    status_.writer = writer();
}

nts::KeyPolicy NtsKeyManager::policy() const {
    nts::KeyPolicy p;
    p.rotation_interval = static_cast<int64_t>(config_.key_rotation);
    p.previous_keys = config_.previous_keys;
    return p;
}

void NtsKeyManager::start() {
    if (writer())
        start_writer();
    else
        start_reader();
}

// The writer keeps the keys it wrote before a restart, so that every
// client's cookies still open; a file it cannot use is replaced by a fresh
// set (clients then get NTSN and redo NTS-KE), and the reason is logged.
void NtsKeyManager::start_writer() {
    nts::KeyStore store(policy());
    struct stat st {};
    if (stat(config_.key_file.c_str(), &st) != 0 && errno == ENOENT) {
        log_.info(io::LogClass::General, "NTS keys: no key file yet; making " + config_.key_file);
    } else if (auto loaded = nts::load_key_store(config_.key_file); !loaded) {
        failed("NTS keys: " + loaded.error() + "; starting a new key set");
    } else if (loaded->policy() != policy()) {
        log_.info(io::LogClass::General,
                  "NTS keys: " + config_.key_file +
                      " was written with another rotation policy; starting a new key set");
    } else {
        store = std::move(*loaded);
        ++status_.loads;
    }
    publish(std::move(store));
    rotate();
}

void NtsKeyManager::start_reader() {
    check_file();
    if (!shared_.get()) {
        log_.warn(io::LogClass::General,
                  "NTS keys: no usable key file " + config_.key_file +
                      " yet (key_rotation = 0: another host writes it); NTS requests are "
                      "answered with NTSN until it appears");
    }
}

void NtsKeyManager::rotate() {
    const int64_t now = now_();
    nts::KeyStore next = *shared_.get();
    if (next.rotate(now, random_)) {
        save(next);
        ++status_.rotations;
        publish(std::move(next));
    }
    arm(shared_.get()->next_rotation(now));
}

void NtsKeyManager::check_file() {
    struct stat st {};
    if (stat(config_.key_file.c_str(), &st) != 0) {
        if (errno != ENOENT) failed("NTS keys: " + config_.key_file + ": " + strerror(errno));
    } else {
        const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
        if (mtime_ns != file_mtime_ns_) {
            auto loaded = nts::load_key_store(config_.key_file);
            if (loaded) {
                file_mtime_ns_ = mtime_ns;
                ++status_.loads;
                publish(std::move(*loaded));
            } else {
                // Keep the set we have: a half-copied file must not empty it.
                failed("NTS keys: " + loaded.error() + "; keeping the current set");
            }
        }
    }
    arm(now_() + kReaderCheckInterval);
}

void NtsKeyManager::save(const nts::KeyStore& store) {
    auto saved = nts::save_key_store(store, config_.key_file);
    if (!saved) failed("NTS keys: " + saved.error() + "; the new keys live in memory only");
}

void NtsKeyManager::publish(nts::KeyStore store) {
    const int64_t now = now_();
    status_.keys = store.keys().size();
    const nts::MasterKey* sealing = store.sealing_key(now);
    status_.sealing_id = sealing != nullptr ? sealing->id : 0;
    shared_.publish(std::make_shared<const nts::KeyStore>(std::move(store)));
}

void NtsKeyManager::failed(const std::string& message) {
    ++status_.failures;
    status_.last_error = message;
    log_.error(io::LogClass::General, message);
}

void NtsKeyManager::arm(int64_t at_unix) {
    const int64_t now = now_();
    // At least a second, at most an interval: a clock stepped by hours
    // must not leave the keys unrotated for that long.
    const int64_t limit =
        writer() ? static_cast<int64_t>(config_.key_rotation) : kReaderCheckInterval;
    const int64_t delay = std::clamp<int64_t>(at_unix - now, 1, limit);
    status_.next_check = now + delay;
    loop_.add_timer_after(std::chrono::seconds(delay), [this] {
        if (writer())
            rotate();
        else
            check_file();
    });
}

}  // namespace nanotime::daemon
