// toml_checker.hpp - strict, typed reading of toml++ tables for config.cpp:
// every key known, every value of the right type and in range, each
// failure one ConfigError at the value's file:line:column. Included by
// config.cpp only (toml++ is compiled header-only in that one unit).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace nanotime::config {

inline const char* type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
        case toml::node_type::time:
        case toml::node_type::date_time:
            return "a date/time";
        default:
            return "nothing";
    }
}

class Checker {
  public:
    Checker(std::string_view file, std::vector<ConfigError>& errors)
        : file_(file), errors_(errors) {}

    // In the file @where names (a drop-in's nodes keep theirs when merged),
    // else the one checked.
    void error(const toml::source_region& where, std::string message) {
        errors_.push_back(ConfigError{where.path ? *where.path : file_, where.begin.line,
                                      where.begin.column, std::move(message)});
    }

    // Every key of @t must be in @allowed.
    void only(const toml::table& t, std::string_view path,
              std::initializer_list<std::string_view> allowed) {
        for (auto&& [key, value] : t) {
            bool known = false;
            for (std::string_view a : allowed) known = known || key.str() == a;
            if (!known) {
                error(key.source(),
                      "unknown key '" + std::string(key.str()) + "' in " + std::string(path));
            }
        }
    }

    size_t error_count() const { return errors_.size(); }

    const toml::table* table(const toml::table& t, std::string_view key, std::string_view path) {
        const toml::node* n = t.get(key);
        if (n == nullptr) return nullptr;
        if (!n->is_table()) {
            wrong_type(*n, path, key, "a table");
            return nullptr;
        }
        return n->as_table();
    }

    void string(const toml::table& t, std::string_view key, std::string_view path,
                std::string& out) {
        if (const toml::node* n = t.get(key)) {
            if (auto v = n->value_exact<std::string>()) {
                out = *v;
            } else {
                wrong_type(*n, path, key, "a string");
            }
        }
    }

    void boolean(const toml::table& t, std::string_view key, std::string_view path, bool& out) {
        if (const toml::node* n = t.get(key)) {
            if (auto v = n->value_exact<bool>()) {
                out = *v;
            } else {
                wrong_type(*n, path, key, "a boolean");
            }
        }
    }

    template <typename Int>
    void integer(const toml::table& t, std::string_view key, std::string_view path, Int& out,
                 int64_t min, int64_t max) {
        if (const toml::node* n = t.get(key)) {
            auto v = n->value_exact<int64_t>();
            if (!v) {
                wrong_type(*n, path, key, "an integer");
            } else if (*v < min || *v > max) {
                error(n->source(), qualified(path, key) + " must be between " +
                                       std::to_string(min) + " and " + std::to_string(max) +
                                       ", not " + std::to_string(*v));
            } else {
                out = static_cast<Int>(*v);
            }
        }
    }

    // A float; integers are accepted too ("step_threshold = 1").
    void number(const toml::table& t, std::string_view key, std::string_view path, double& out,
                double min, double max) {
        if (const toml::node* n = t.get(key)) {
            std::optional<double> v;
            if (auto f = n->value_exact<double>()) v = *f;
            if (auto i = n->value_exact<int64_t>()) v = static_cast<double>(*i);
            if (!v) {
                wrong_type(*n, path, key, "a number");
            } else if (!(*v >= min && *v <= max)) {  // also rejects NaN
                std::ostringstream msg;
                msg << qualified(path, key) << " must be between " << min << " and " << max
                    << ", not " << *v;
                error(n->source(), msg.str());
            } else {
                out = *v;
            }
        }
    }

    template <typename Enum>
    void choice(const toml::table& t, std::string_view key, std::string_view path, Enum& out,
                std::initializer_list<std::pair<std::string_view, Enum>> options) {
        std::string text;
        const toml::node* n = t.get(key);
        if (n == nullptr) return;
        if (!n->is_string()) {
            wrong_type(*n, path, key, "a string");
            return;
        }
        text = *n->value_exact<std::string>();
        std::string names;
        for (auto& [name, value] : options) {
            if (text == name) {
                out = value;
                return;
            }
            names += names.empty() ? "" : ", ";
            names += "\"" + std::string(name) + "\"";
        }
        error(n->source(),
              qualified(path, key) + " must be one of " + names + ", not \"" + text + "\"");
    }

    // An array of strings; each is passed to @check with its location.
    template <typename Check>
    void strings(const toml::table& t, std::string_view key, std::string_view path,
                 std::vector<std::string>& out, Check check) {
        const toml::node* n = t.get(key);
        if (n == nullptr) return;
        const toml::array* a = n->as_array();
        if (a == nullptr) {
            wrong_type(*n, path, key, "an array of strings");
            return;
        }
        out.clear();
        for (const toml::node& e : *a) {
            auto v = e.value_exact<std::string>();
            if (!v) {
                error(e.source(),
                      qualified(path, key) + ": expected strings, found " + type_name(e));
                continue;
            }
            if (check(*v, e.source())) out.push_back(*v);
        }
    }

    std::string qualified(std::string_view path, std::string_view key) const {
        return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
    }

  private:
    void wrong_type(const toml::node& n, std::string_view path, std::string_view key,
                    const char* want) {
        error(n.source(), qualified(path, key) + ": expected " + want + ", found " + type_name(n));
    }

    std::string file_;
    std::vector<ConfigError>& errors_;
};

}  // namespace nanotime::config
