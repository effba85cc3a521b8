// key_store_file.cpp - load and atomically save the NTS master key file.
#include "nts/key_store_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

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

bool write_all(int fd, const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

std::string directory_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

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
    std::string name = path + ".XXXXXX";
    std::vector<char> temp(name.begin(), name.end());
    temp.push_back('\0');
    Fd file{::mkostemp(temp.data(), O_CLOEXEC)};  // mode 0600
    if (file.fd < 0) return unexpected(system_error(path, "cannot create temporary file"));
    const std::string text = store.encode();
    const bool written =
        ::fchmod(file.fd, 0600) == 0 && write_all(file.fd, text) && ::fsync(file.fd) == 0;
    if (!written) {
        const std::string error = system_error(path, "cannot write temporary file");
        ::unlink(temp.data());
        return unexpected(error);
    }
    if (::rename(temp.data(), path.c_str()) != 0) {
        const std::string error = system_error(path, "cannot rename temporary file");
        ::unlink(temp.data());
        return unexpected(error);
    }
    // The rename itself is durable only once the directory is.
    Fd directory{::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (directory.fd < 0 || ::fsync(directory.fd) != 0) {
        return unexpected(system_error(path, "cannot sync directory"));
    }
    return true;
}

}  // namespace nts
