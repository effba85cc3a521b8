// pool_tokens.hpp - the NTS pool's authentication tokens a time source
// accepts ([nts_ke] pool_tokens / pool_token_file), checked in constant
// time: only SHA-256 digests are kept, and a presented token is hashed and
// compared with every digest by CRYPTO_memcmp, without stopping at a match,
// so neither the time taken nor an early exit tells which octet or which
// token differed (the 2026 audit of the reference pool found its
// comparison was not constant time).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace nts {

// [nts_ke] pool_token_file: one token a line; blank lines and lines
// starting with '#' are skipped, spaces and tabs around a token trimmed.
// At most kMaxPoolTokens tokens; each must pass valid_authentication_token.
// The error is "line <n>: <reason>".
inline constexpr size_t kMaxPoolTokens = 1024;
inline constexpr size_t kMaxPoolTokenFileBytes = size_t{64} * 1024;
nanotime::ntp::Result<std::vector<std::string>, std::string> parse_pool_token_file(
    std::string_view text);

class PoolTokens {
  public:
    PoolTokens() = default;
    // Each token must pass valid_authentication_token() (the config checks).
    explicit PoolTokens(const std::vector<std::string>& tokens);

    bool empty() const { return digests_.empty(); }
    size_t size() const { return digests_.size(); }
    bool contains(std::string_view token) const;

  private:
    std::vector<std::array<uint8_t, 32>> digests_;
};

}  // namespace nts
