// atomic_file.cpp - see atomic_file.hpp.
#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace nanotime::util {
namespace {

// Closes the descriptor on every path out.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

bool write_all(int fd, std::string_view text) {
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

std::string failure(const std::string& path, const char* what, int error) {
    return path + ": " + what + ": " + std::strerror(error);
}

}  // namespace

std::optional<std::string> replace_file(const std::string& path, std::string_view text,
                                        mode_t mode) {
    std::string name = path + ".XXXXXX";
    std::vector<char> temporary(name.begin(), name.end());
    temporary.push_back('\0');
    Fd file{::mkostemp(temporary.data(), O_CLOEXEC)};  // created 0600
    if (file.fd < 0) return failure(path, "cannot create temporary file", errno);
    if (::fchmod(file.fd, mode) != 0 || !write_all(file.fd, text) || ::fsync(file.fd) != 0) {
        const int error = errno;
        ::unlink(temporary.data());
        return failure(path, "cannot write temporary file", error);
    }
    if (::rename(temporary.data(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.data());
        return failure(path, "cannot rename temporary file", error);
    }
    Fd directory{::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (directory.fd < 0 || ::fsync(directory.fd) != 0)
        return failure(path, "written, but its directory cannot be synced", errno);
    return std::nullopt;
}

}  // namespace nanotime::util
