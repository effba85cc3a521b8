// non_ascii.cpp - the scanner behind find_non_ascii() (see non_ascii.hpp).
#include "config/non_ascii.hpp"

#include <cstdint>
#include <string>

namespace nanotime::config {

// toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable() on some
// non-ASCII input (marzer/tomlplusplus#190, #295; fixed upstream after
// 3.4). Our keys and values have no use for non-ASCII text, so anything
// outside ASCII is refused before toml++ sees it - except inside comments,
// which toml++ skips without classifying characters.
std::optional<ConfigError> find_non_ascii(std::string_view text, std::string_view file) {
    enum { Normal, Comment, Basic, Literal, MlBasic, MlLiteral } state = Normal;
    uint32_t line = 1, column = 1;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const auto rest = text.substr(i);
        if (static_cast<unsigned char>(c) >= 0x80 && state != Comment) {
            return ConfigError{
                std::string(file), line, column,
                "non-ASCII character: nanotimed's configuration must be ASCII outside comments"};
        }
        switch (state) {
            case Normal:
                if (c == '#')
                    state = Comment;
                else if (rest.starts_with("\"\"\""))
                    state = MlBasic, i += 2, column += 2;
                else if (rest.starts_with("'''"))
                    state = MlLiteral, i += 2, column += 2;
                else if (c == '"')
                    state = Basic;
                else if (c == '\'')
                    state = Literal;
                break;
            case Comment:
                if (c == '\n') state = Normal;
                break;
            case Basic:
                if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n')
                    ++i, ++column;
                else if (c == '"' || c == '\n')
                    state = Normal;
                break;
            case Literal:
                if (c == '\'' || c == '\n') state = Normal;
                break;
            case MlBasic:
                if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n')
                    ++i, ++column;
                else if (rest.starts_with("\"\"\""))
                    state = Normal, i += 2, column += 2;
                break;
            case MlLiteral:
                if (rest.starts_with("'''")) state = Normal, i += 2, column += 2;
                break;
        }
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return std::nullopt;
}

}  // namespace nanotime::config
