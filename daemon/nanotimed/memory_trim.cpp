// memory_trim.cpp - dropping start-up-only file mappings and free heap (see
// memory_trim.hpp).
#include "nanotimed/memory_trim.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace nanotime::daemon {
namespace {

struct Mapping {
    uintptr_t start = 0;
    uintptr_t end = 0;
    bool candidate = false;  // private, not writable, backed by a file
    size_t rss_kib = 0;
    size_t anonymous_kib = 0;
    size_t locked_kib = 0;
};

// One smaps header line: "start-end perms offset dev inode [path]".
bool parse_header(const char* line, Mapping& m) {
    unsigned long start = 0, end = 0;
    char perms[5] = {};
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3)
        return false;
    m = Mapping{};
    m.start = start;
    m.end = end;
    const char* path = line + path_at;
    // "/..." is a file; "[heap]", "[stack]", "[vdso]", "anon_inode:..." and
    // nothing (anonymous) are not. Deleted files are left alone too.
    m.candidate = perms[1] != 'w' && perms[3] == 'p' && path[0] == '/' &&
                  std::strstr(path, " (deleted)") == nullptr;
    return true;
}

size_t field_kib(const char* line, const char* name) {
    const size_t n = std::strlen(name);
    if (std::strncmp(line, name, n) != 0) return static_cast<size_t>(-1);
    unsigned long kib = 0;
    return std::sscanf(line + n, "%lu", &kib) == 1 ? kib : static_cast<size_t>(-1);
}

std::vector<Mapping> read_mappings() {
    std::vector<Mapping> maps;
    FILE* f = std::fopen("/proc/self/smaps", "re");
    if (f == nullptr) return maps;
    char line[4096];
    while (std::fgets(line, sizeof line, f) != nullptr) {
        Mapping m;
        // Field lines start with a capitalised name; header lines with hex.
        if (line[0] >= 'A' && line[0] <= 'Z') {
            if (maps.empty()) continue;
            Mapping& cur = maps.back();
            if (size_t v = field_kib(line, "Rss:"); v != static_cast<size_t>(-1)) cur.rss_kib = v;
            if (size_t v = field_kib(line, "Anonymous:"); v != static_cast<size_t>(-1))
                cur.anonymous_kib = v;
            if (size_t v = field_kib(line, "Locked:"); v != static_cast<size_t>(-1))
                cur.locked_kib = v;
        } else if (parse_header(line, m)) {
            maps.push_back(m);
        }
    }
    std::fclose(f);
    return maps;
}

// /proc/self/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
constexpr uint64_t kPresent = uint64_t{1} << 63;
constexpr uint64_t kSwapped = uint64_t{1} << 62;
constexpr uint64_t kFileOrSharedAnon = uint64_t{1} << 61;

// Drops the pages of [start, end) that are still the file's, keeping those
// copied on write (present or swapped anonymous pages): a read-only mapping
// of a library's relocated data holds both kinds. Returns the bytes of the
// ranges dropped.
size_t drop_file_pages(int pagemap, uintptr_t start, uintptr_t end, size_t page) {
    size_t dropped = 0;
    uintptr_t run = 0;  // start of the current run of droppable pages, 0: none
    auto flush = [&](uintptr_t at) {
        if (run != 0 && madvise(reinterpret_cast<void*>(run), at - run, MADV_DONTNEED) == 0)
            dropped += at - run;
        run = 0;
    };
    uint64_t entries[512];
    uintptr_t addr = start;  // pages below it have been looked at
    while (addr < end) {
        const size_t want = std::min<size_t>(512, (end - addr) / page);
        const ssize_t got = pread(pagemap, entries, want * sizeof entries[0],
                                  static_cast<off_t>(addr / page * sizeof entries[0]));
        if (got <= 0) break;
        const size_t n = static_cast<size_t>(got) / sizeof entries[0];
        for (size_t i = 0; i < n; ++i, addr += page) {
            const uint64_t e = entries[i];
            const bool anonymous =
                (e & kSwapped) != 0 || ((e & kPresent) != 0 && (e & kFileOrSharedAnon) == 0);
            if (anonymous) {
                flush(addr);
            } else if (run == 0) {
                run = addr;
            }
        }
    }
    flush(addr);  // never past what pagemap described
    return dropped;
}

}  // namespace

TrimResult trim_startup_memory() {
    TrimResult r;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    for (const Mapping& m : read_mappings()) {
        if (!m.candidate || m.rss_kib == 0 || m.locked_kib != 0) continue;
        if (m.anonymous_kib == 0) {
            // All the file's pages: the whole mapping at once.
            if (madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) != 0)
                continue;
        } else if (pagemap < 0 || drop_file_pages(pagemap, m.start, m.end, page) == 0) {
            continue;  // without pagemap a mixed mapping is kept whole
        }
        ++r.mappings;
        r.resident_kib += m.rss_kib - m.anonymous_kib;
    }
    if (pagemap >= 0) close(pagemap);
    r.heap_trimmed = malloc_trim(0) != 0;
    return r;
}

}  // namespace nanotime::daemon
