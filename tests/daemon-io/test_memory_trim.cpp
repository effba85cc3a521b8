// test_memory_trim.cpp - trim_startup_memory() drops the pages of clean,
// read-only file mappings, keeps every page copied on write, and leaves
// writable mappings alone; what it dropped reads back the same.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nanotimed/memory_trim.hpp"

namespace {

using nanotime::daemon::trim_startup_memory;

constexpr size_t kPages = 64;

// Resident KiB of the mapping that starts at @addr (/proc/self/smaps).
long rss_kib_at(const void* addr) {
    FILE* f = std::fopen("/proc/self/smaps", "re");
    if (f == nullptr) return -1;
    char line[4096];
    bool in = false;
    long rss = -1;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        unsigned long start = 0, end = 0;
        if (std::sscanf(line, "%lx-%lx ", &start, &end) == 2) {  // a mapping's first line
            in = start == reinterpret_cast<uintptr_t>(addr);
        } else if (in && std::strncmp(line, "Rss:", 4) == 0) {
            rss = std::strtol(line + 4, nullptr, 10);
            break;
        }
    }
    std::fclose(f);
    return rss;
}

// A file of kPages pages, page i filled with the byte i + 1.
class MappedFile : public ::testing::Test {
  protected:
    void SetUp() override {
        page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        // Kept until TearDown: the mapping of a deleted file is left alone.
        fd_ = mkstemp(path_);
        ASSERT_GE(fd_, 0);
        std::vector<uint8_t> data(kPages * page_);
        for (size_t i = 0; i < kPages; ++i) std::memset(&data[i * page_], int(i + 1), page_);
        ASSERT_EQ(write(fd_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    }
    void TearDown() override {
        if (map_ != nullptr) munmap(map_, kPages * page_);
        if (fd_ >= 0) {
            close(fd_);
            unlink(path_);
        }
    }
    uint8_t* map(int prot) {
        void* p = mmap(nullptr, kPages * page_, prot, MAP_PRIVATE, fd_, 0);
        EXPECT_NE(p, MAP_FAILED);
        map_ = static_cast<uint8_t*>(p);
        return map_;
    }
    // Reads every page; true if page i still holds i + 1 throughout.
    bool touch_and_check(const uint8_t* m, size_t skip = kPages) const {
        bool ok = true;
        for (size_t i = 0; i < kPages; ++i) {
            if (i == skip) continue;
            for (size_t b = 0; b < page_; b += 512) ok = ok && m[i * page_ + b] == uint8_t(i + 1);
        }
        return ok;
    }

    char path_[32] = "/tmp/nanotime-trim-XXXXXX";
    size_t page_ = 4096;
    int fd_ = -1;
    uint8_t* map_ = nullptr;
};

TEST_F(MappedFile, DropsTheResidentPagesOfAReadOnlyFileMapping) {
    const uint8_t* m = map(PROT_READ);
    ASSERT_TRUE(touch_and_check(m));
    const long kib = static_cast<long>(kPages * page_ / 1024);
    ASSERT_EQ(rss_kib_at(m), kib);
    const auto r = trim_startup_memory();
    EXPECT_GE(r.mappings, 1u);
    EXPECT_GE(r.resident_kib, static_cast<size_t>(kib));
    EXPECT_EQ(rss_kib_at(m), 0);
    EXPECT_TRUE(touch_and_check(m));  // back from the page cache, unchanged
}

TEST_F(MappedFile, KeepsPagesCopiedOnWriteInAReadOnlyMapping) {
    // What RELRO leaves: a private mapping written once, then made read-only.
    uint8_t* m = map(PROT_READ | PROT_WRITE);
    std::memset(m + 3 * page_, 0xAB, page_);
    ASSERT_EQ(mprotect(m, kPages * page_, PROT_READ), 0);
    ASSERT_TRUE(touch_and_check(m, 3));
    trim_startup_memory();
    EXPECT_EQ(rss_kib_at(m), static_cast<long>(page_ / 1024));  // the written page only
    for (size_t b = 0; b < page_; ++b) ASSERT_EQ(m[3 * page_ + b], 0xAB);
    EXPECT_TRUE(touch_and_check(m, 3));
}

TEST_F(MappedFile, LeavesWritableMappingsAlone) {
    const uint8_t* m = map(PROT_READ | PROT_WRITE);
    ASSERT_TRUE(touch_and_check(m));
    const long before = rss_kib_at(m);
    trim_startup_memory();
    EXPECT_EQ(rss_kib_at(m), before);
}

}  // namespace
