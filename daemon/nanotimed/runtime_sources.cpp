// runtime_sources.cpp - see runtime_sources.hpp.
#include "nanotimed/runtime_sources.hpp"

#include <algorithm>

#include "util/atomic_file.hpp"

namespace nanotime::daemon {

std::vector<config::ConfigError> RuntimeSources::load() {
    if (path_.empty()) return {};  // the ones added since the start, kept in memory
    entries_.clear();
    broken_.reset();
    config::SourcesFileResult r = config::load_sources_file(path_);
    if (!r.errors.empty()) {
        broken_ = r.errors.front().to_string();
        return std::move(r.errors);
    }
    entries_ = std::move(r.sources);
    return {};
}

bool RuntimeSources::holds(const config::SourceEntry& entry) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const config::SourceEntry& e) { return config::same_source(e, entry); });
}

std::optional<std::string> RuntimeSources::add(const config::SourceEntry& entry) {
    if (broken_) {
        return "the run-time sources file has errors (" + *broken_ +
               "): fix or remove it and reload first";
    }
    if (entries_.size() >= kMaxRuntimeSources) {
        return "already " + std::to_string(kMaxRuntimeSources) +
               " sources added at run time: delete one first";
    }
    std::vector<config::SourceEntry> next = entries_;
    next.push_back(entry);
    if (auto failed = save(next)) return failed;
    entries_ = std::move(next);
    return std::nullopt;
}

std::optional<std::string> RuntimeSources::remove(const std::vector<config::SourceEntry>& gone) {
    if (broken_) {
        return "the run-time sources file has errors (" + *broken_ +
               "): fix or remove it and reload first";
    }
    std::vector<config::SourceEntry> next = entries_;
    for (const config::SourceEntry& entry : gone) {
        auto it = std::find_if(next.begin(), next.end(), [&](const config::SourceEntry& e) {
            return config::same_source(e, entry);
        });
        if (it != next.end()) next.erase(it);
    }
    if (next.size() == entries_.size()) return std::nullopt;
    if (auto failed = save(next)) return failed;
    entries_ = std::move(next);
    return std::nullopt;
}

std::optional<std::string> RuntimeSources::save(
    const std::vector<config::SourceEntry>& entries) const {
    if (path_.empty()) return std::nullopt;
    const std::string text =
        "# Sources added at run time (nanotimectl add / delete). nanotimed\n"
        "# rewrites this file: edit it only with the daemon stopped, or reload\n"
        "# after editing. Only [[source]] tables (see nanotimed.toml(5)).\n" +
        config::format_sources_file(entries);
    if (auto failed = util::replace_file(path_, text, 0644))
        return "cannot keep the change: " + *failed;
    return std::nullopt;
}

}  // namespace nanotime::daemon
