// roles.hpp - who may do what at the broker. monitor < operator < admin
// form a ladder (an operator may do what a monitor may); member is apart:
// a subscribed daemon's certificate, good for GET /v1/subscribe only.
#pragma once

#include <optional>
#include <string_view>

namespace nanotime::broker {

enum class Role { Monitor, Operator, Admin, Member };

constexpr std::string_view to_string(Role role) {
    switch (role) {
        case Role::Monitor:
            return "monitor";
        case Role::Operator:
            return "operator";
        case Role::Admin:
            return "admin";
        case Role::Member:
            return "member";
    }
    return "member";
}

constexpr std::optional<Role> role_from_string(std::string_view name) {
    for (Role r : {Role::Monitor, Role::Operator, Role::Admin, Role::Member}) {
        if (to_string(r) == name) return r;
    }
    return std::nullopt;
}

// Does @held satisfy an endpoint that needs @needed?
constexpr bool role_allows(Role held, Role needed) {
    if (held == Role::Member || needed == Role::Member) return held == needed;
    return static_cast<int>(held) >= static_cast<int>(needed);
}

}  // namespace nanotime::broker
