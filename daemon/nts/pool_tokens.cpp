// pool_tokens.cpp - constant-time pool token check (see pool_tokens.hpp).
#include "nts/pool_tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nts/ke_pool_records.hpp"

namespace nts {

namespace {

// False if OpenSSL failed (out of memory): the token then matches nothing.
bool sha256(std::string_view text, std::array<uint8_t, 32>& digest) {
    unsigned length = 0;
    return EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) ==
               1 &&
           length == digest.size();
}

}  // namespace

PoolTokens::PoolTokens(const std::vector<std::string>& tokens) {
    digests_.reserve(tokens.size());
    for (const std::string& t : tokens) {
        std::array<uint8_t, 32> d{};
        if (sha256(t, d)) digests_.push_back(d);
    }
}

bool PoolTokens::contains(std::string_view token) const {
    if (token.empty()) return false;
    std::array<uint8_t, 32> presented{};
    if (!sha256(token, presented)) return false;
    int found = 0;
    for (const auto& d : digests_)
        found |= static_cast<int>(CRYPTO_memcmp(presented.data(), d.data(), d.size()) == 0);
    return found != 0;
}

nanotime::ntp::Result<std::vector<std::string>, std::string> parse_pool_token_file(
    std::string_view text) {
    using nanotime::ntp::unexpected;
    if (text.size() > kMaxPoolTokenFileBytes)
        return unexpected(std::string("file larger than 64 KiB"));
    std::vector<std::string> tokens;
    size_t number = 0;
    while (!text.empty()) {
        ++number;
        const size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        const size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos || line[first] == '#') continue;
        line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
        const std::string where = "line " + std::to_string(number) + ": ";
        if (!valid_authentication_token(line)) {
            return unexpected(where +
                              "a token must be 1-256 printable ASCII characters "
                              "without spaces");
        }
        if (tokens.size() == kMaxPoolTokens)
            return unexpected(where + "more than " + std::to_string(kMaxPoolTokens) + " tokens");
        tokens.emplace_back(line);
    }
    return tokens;
}

}  // namespace nts
