// key_store_file.cpp - load and atomically save the NTS master key file.
#include "nts/key_store_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/atomic_file.hpp"

namespace nts {
namespace {

constexpr size_t kMaxFileSize = size_t{64} * 1024;  // octets; a full file is ~4 KiB

std::string system_error(const std::string& path, const char* what) {
    return path + ": " + what + ": " + std::strerror(errno);
}

// Closes the descriptor on every path out.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Result<KeyStore, KeyFileMessage> load_key_store(const std::string& path) {
    Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) return unexpected(system_error(path, "cannot open"));
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(file.fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return unexpected(system_error(path, "cannot read"));
        if (n == 0) break;
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > kMaxFileSize) return unexpected(path + ": file too large for a key file");
    }
    auto store = KeyStore::decode(text);
    if (!store) {
        const KeyFileError e = store.error();
        const std::string where = e.line == 0 ? path : path + ":" + std::to_string(e.line);
        return unexpected(where + ": " + to_string(e.kind));
    }
    return std::move(*store);
}

Result<bool, KeyFileMessage> save_key_store(const KeyStore& store, const std::string& path) {
    if (auto failed = nanotime::util::replace_file(path, store.encode(), 0600))
        return unexpected(std::move(*failed));
    return true;
}

}  // namespace nts
