// exposition.cpp - the Prometheus text format writer (see exposition.hpp).
#include "metrics/exposition.hpp"

#include <charconv>
#include <cmath>

namespace nanotime::metrics {

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (const char c : help) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, r.ptr);
}

void Exposition::family(std::string_view name, MetricType type, std::string_view help) {
    name_ = name;
    const char* type_name = type == MetricType::Gauge     ? "gauge"
                            : type == MetricType::Counter ? "counter"
                                                          : "histogram";
    out_ += "# HELP " + name_ + " " + escape_help(help) + "\n";
    out_ += "# TYPE " + name_ + " " + type_name + "\n";
}

void Exposition::line(std::string_view suffix, const Labels& labels, const std::string* extra_label,
                      std::string_view value) {
    out_ += name_;
    out_ += suffix;
    if (!labels.empty() || extra_label != nullptr) {
        out_ += '{';
        bool first = true;
        for (const auto& [name, v] : labels) {
            if (!first) out_ += ',';
            first = false;
            out_ += name + "=\"" + escape_label_value(v) + "\"";
        }
        if (extra_label != nullptr) {
            if (!first) out_ += ',';
            out_ += *extra_label;
        }
        out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
}

void Exposition::sample(const Labels& labels, double value) {
    line("", labels, nullptr, format_value(value));
}

void Exposition::sample(const Labels& labels, uint64_t value) {
    line("", labels, nullptr, std::to_string(value));
}

void Exposition::histogram(const Labels& labels, const HistogramData& data) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < data.bounds.size(); ++i) {
        cumulative += i < data.counts.size() ? data.counts[i] : 0;
        const std::string le = "le=\"" + format_value(data.bounds[i]) + "\"";
        line("_bucket", labels, &le, std::to_string(cumulative));
    }
    // The count is the buckets' total, not data.count: a histogram read
    // while its writer runs may have one without the other (AtomicHistogram),
    // and +Inf must not be below the last finite bucket.
    if (data.counts.size() > data.bounds.size()) cumulative += data.counts.back();
    const std::string inf = "le=\"+Inf\"";
    line("_bucket", labels, &inf, std::to_string(cumulative));
    line("_sum", labels, nullptr, format_value(data.sum));
    line("_count", labels, nullptr, std::to_string(cumulative));
}

}  // namespace nanotime::metrics
