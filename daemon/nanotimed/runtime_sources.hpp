// runtime_sources.hpp - the sources an operator added at run time
// (nanotimectl add, or through the fleet broker), kept in [control]
// sources_file so that they survive a restart.
//
// The file holds [[source]] tables only (config::parse_sources_file): the
// daemon writes it itself, so it must not be able to change anything but
// its sources. It is read after the configuration at start and at every
// reload, and rewritten all at once (util::replace_file) on each add or
// delete. A file with errors is not used, and adds and deletes are refused
// until it is fixed (and the daemon reloaded): rewriting it would lose what
// the operator wrote there.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace nanotime::daemon {

// At most this many sources added at run time: the file and the daemon's
// source table stay bounded whatever a management client sends.
inline constexpr size_t kMaxRuntimeSources = 64;

class RuntimeSources {
  public:
    // @path empty: additions last until the daemon stops.
    explicit RuntimeSources(std::string path) : path_(std::move(path)) {}

    // (Re-)reads the file: its errors (file:line: reason), none when it is
    // missing or valid. With errors the entries are none.
    std::vector<config::ConfigError> load();

    const std::vector<config::SourceEntry>& entries() const { return entries_; }
    const std::string& path() const { return path_; }
    bool persistent() const { return !path_.empty(); }

    // Adds @entry and rewrites the file: nullopt, or why not and nothing
    // changed (the file has errors, too many sources, cannot be written).
    std::optional<std::string> add(const config::SourceEntry& entry);
    // Is an entry like @entry (config::same_source) kept here?
    bool holds(const config::SourceEntry& entry) const;
    // Removes one entry like each of @gone (those it holds) and rewrites
    // the file: nullopt, or why not and nothing changed.
    std::optional<std::string> remove(const std::vector<config::SourceEntry>& gone);

  private:
    std::optional<std::string> save(const std::vector<config::SourceEntry>& entries) const;

    std::string path_;
    std::vector<config::SourceEntry> entries_;
    std::optional<std::string> broken_;  // the first error of the last load
};

}  // namespace nanotime::daemon
