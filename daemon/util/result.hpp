// result.hpp - a value or a typed error, for parsers of untrusted input.
//
// std::expected is C++23; this is the subset the core needs. Parsers return
// Result<T, E> instead of throwing so that hostile bytes never unwind the stack
// of the event loop.
#pragma once

#include <utility>
#include <variant>

namespace nanotime::ntp {

template <typename E>
struct Unexpected {
    E error;
};

template <typename E>
Unexpected<E> unexpected(E error) {
    return Unexpected<E>{error};
}

template <typename T, typename E>
class Result {
  public:
    // Implicit on purpose, as std::expected: `return value;` and
    // `return unexpected(error);` both make a Result.
    // cppcheck-suppress noExplicitConstructor
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    // cppcheck-suppress noExplicitConstructor
    Result(Unexpected<E> error) : state_(std::in_place_index<1>, error.error) {}

    bool has_value() const { return state_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    // Precondition: has_value().
    T& value() { return std::get<0>(state_); }
    const T& value() const { return std::get<0>(state_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    // Precondition: !has_value().
    E error() const { return std::get<1>(state_); }

  private:
    std::variant<T, E> state_;
};

}  // namespace nanotime::ntp
