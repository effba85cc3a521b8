// subscription_messages.cpp - strict parsing and serialising of the
// subscription channel's messages (subscription_messages.hpp).
#include "broker/subscription_messages.hpp"

#include <algorithm>
#include <set>

namespace nanotime::broker {
namespace {

using nlohmann::json;

// Names (role, event kind, member, actor, version, command): printable
// ASCII without spaces or quotes, so audit lines and logs need no escaping.
bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ':' || c == '@' || c == '+' || c == '/';
}

// Free text: any UTF-8 (the JSON parser checked it) but no control bytes.
bool is_text(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

bool is_name(std::string_view s, size_t max) {
    return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), is_name_char);
}

// Reads one message object's fields, remembering which it consumed so that
// finish() can refuse the ones the type does not define.
class Fields {
  public:
    Fields(const json& object, std::string_view type) : object_(object), type_(type) {
        seen_.insert("type");
    }

    bool integer(const char* key, uint64_t min, uint64_t max, uint64_t& out) {
        const json* v = take(key);
        if (v == nullptr) return false;
        if (!v->is_number_unsigned() || v->get<uint64_t>() < min || v->get<uint64_t>() > max) {
            return fail(key,
                        "an integer from " + std::to_string(min) + " to " + std::to_string(max));
        }
        out = v->get<uint64_t>();
        return true;
    }

    bool name(const char* key, size_t max, std::string& out) {
        const json* v = take(key);
        if (v == nullptr) return false;
        if (!v->is_string() || !is_name(v->get_ref<const std::string&>(), max)) {
            return fail(key,
                        "a name of 1 to " + std::to_string(max) + " bytes from [A-Za-z0-9._:@+/-]");
        }
        out = v->get<std::string>();
        return true;
    }

    bool text(const char* key, size_t max, std::string& out) {
        const json* v = take(key);
        if (v == nullptr) return false;
        if (!v->is_string() || v->get_ref<const std::string&>().size() > max ||
            !is_text(v->get_ref<const std::string&>())) {
            return fail(key, "a string of at most " + std::to_string(max) +
                                 " bytes without control characters");
        }
        out = v->get<std::string>();
        return true;
    }

    bool object(const char* key, json& out) {
        const json* v = take(key);
        if (v == nullptr) return false;
        if (!v->is_object()) return fail(key, "an object");
        out = *v;
        return true;
    }

    bool names(const char* key, size_t max_count, std::vector<std::string>& out) {
        const json* v = take(key);
        if (v == nullptr) return false;
        const std::string want = "an array of at most " + std::to_string(max_count) +
                                 " distinct names from [A-Za-z0-9._:@+/-]";
        if (!v->is_array() || v->size() > max_count) return fail(key, want);
        std::set<std::string, std::less<>> distinct;
        for (const auto& e : *v) {
            if (!e.is_string() || !is_name(e.get_ref<const std::string&>(), kMaxNameBytes) ||
                !distinct.insert(e.get<std::string>()).second) {
                return fail(key, want);
            }
            out.push_back(e.get<std::string>());
        }
        return true;
    }

    // No field left that the type does not define.
    bool finish() {
        if (!error.empty()) return false;
        for (const auto& [key, value] : object_.items()) {
            if (!seen_.contains(key)) {
                error = std::string(type_) + ": unknown field \"" + key + "\"";
                return false;
            }
        }
        return true;
    }

    bool fail(std::string_view key, std::string_view want) {
        if (error.empty()) {
            error =
                std::string(type_) + ": \"" + std::string(key) + "\" must be " + std::string(want);
        }
        return false;
    }

    std::string error;

  private:
    const json* take(const char* key) {
        if (!error.empty()) return nullptr;
        seen_.insert(key);
        const auto it = object_.find(key);
        if (it == object_.end()) {
            error = std::string(type_) + ": missing field \"" + key + "\"";
            return nullptr;
        }
        return &*it;
    }

    const json& object_;
    std::string_view type_;
    std::set<std::string, std::less<>> seen_;
};

// The body parsed as a JSON object with a string "type", nesting bounded.
// Returns the type or sets @error.
std::optional<json> parse_object(std::string_view body, std::string& error) {
    bool too_deep = false;
    const json::parser_callback_t depth_limit = [&too_deep](int depth, json::parse_event_t, json&) {
        if (depth > kMaxMessageDepth) {
            too_deep = true;
            return false;  // discard: the deep value is never built
        }
        return true;
    };
    json j = json::parse(body, depth_limit, false);
    if (too_deep) {
        error = "message nested deeper than " + std::to_string(kMaxMessageDepth) + " levels";
        return std::nullopt;
    }
    if (j.is_discarded()) {
        error = "message is not valid JSON (UTF-8)";
        return std::nullopt;
    }
    if (!j.is_object()) {
        error = "message is not a JSON object";
        return std::nullopt;
    }
    const auto type = j.find("type");
    if (type == j.end() || !type->is_string()) {
        error = "message has no string \"type\"";
        return std::nullopt;
    }
    return j;
}

template <typename Message>
Parsed<Message> failure(std::string error) {
    return Parsed<Message>{std::nullopt, std::move(error)};
}

template <typename Message, typename T>
Parsed<Message> finish(Fields& f, T&& value) {
    if (!f.finish()) return failure<Message>(std::move(f.error));
    return Parsed<Message>{Message{std::forward<T>(value)}, {}};
}

Parsed<DaemonMessage> parse_state(Fields& f) {
    State s;
    json data;
    if (!f.integer("seq", 0, kMaxMessageInteger, s.seq) || !f.object("data", data)) {
        return failure<DaemonMessage>(std::move(f.error));
    }
    for (const auto& [key, value] : data.items()) {
        const bool known =
            std::find(std::begin(kStateViews), std::end(kStateViews), key) != std::end(kStateViews);
        if (!known) return failure<DaemonMessage>("state: unknown view \"" + key + "\" in data");
        if (!value.is_object()) {
            return failure<DaemonMessage>("state: data \"" + key + "\" must be an object");
        }
    }
    s.data = std::move(data);
    return finish<DaemonMessage>(f, std::move(s));
}

Parsed<DaemonMessage> parse_result(Fields& f) {
    Result r;
    if (!f.integer("id", 0, kMaxMessageInteger, r.id) || !f.object("response", r.response)) {
        return failure<DaemonMessage>(std::move(f.error));
    }
    const auto ok = r.response.find("ok");
    if (ok == r.response.end() || !ok->is_boolean()) {
        return failure<DaemonMessage>("result: \"response\" must carry a boolean \"ok\"");
    }
    return finish<DaemonMessage>(f, std::move(r));
}

Parsed<BrokerMessage> parse_command(Fields& f) {
    Command c;
    if (!f.integer("id", 0, kMaxMessageInteger, c.id) || !f.name("actor", kMaxNameBytes, c.actor) ||
        !f.object("request", c.request)) {
        return failure<BrokerMessage>(std::move(f.error));
    }
    const auto command = c.request.find("command");
    if (command == c.request.end() || !command->is_string() ||
        !is_name(command->get_ref<const std::string&>(), kMaxNameBytes)) {
        return failure<BrokerMessage>("command: \"request\" must carry a \"command\" name");
    }
    return finish<BrokerMessage>(f, std::move(c));
}

// Strings from the local host (host name, version) may not be UTF-8:
// replaced, never a throw.
std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

struct DaemonSerialiser {
    json operator()(const Hello& m) const {
        return {{"type", "hello"},
                {"protocol", m.protocol},
                {"host", m.host},
                {"version", m.version},
                {"roles", m.roles}};
    }
    json operator()(const State& m) const {
        return {{"type", "state"}, {"seq", m.seq}, {"data", m.data}};
    }
    json operator()(const Event& m) const {
        return {{"type", "event"}, {"kind", m.kind}, {"text", m.text}};
    }
    json operator()(const Result& m) const {
        return {{"type", "result"}, {"id", m.id}, {"response", m.response}};
    }
    json operator()(const Pong& m) const { return {{"type", "pong"}, {"id", m.id}}; }
};

struct BrokerSerialiser {
    json operator()(const Welcome& m) const {
        return {{"type", "welcome"}, {"member", m.member}, {"state_interval", m.state_interval}};
    }
    json operator()(const Command& m) const {
        return {{"type", "command"}, {"id", m.id}, {"actor", m.actor}, {"request", m.request}};
    }
    json operator()(const Ping& m) const { return {{"type", "ping"}, {"id", m.id}}; }
};

}  // namespace

Parsed<DaemonMessage> parse_daemon_message(std::string_view body) {
    std::string error;
    const auto j = parse_object(body, error);
    if (!j) return failure<DaemonMessage>(std::move(error));
    const auto& type = (*j)["type"].get_ref<const std::string&>();
    Fields f(*j, type);
    if (type == "hello") {
        Hello h;
        uint64_t protocol = 0;
        if (!f.integer("protocol", 1, 65535, protocol) || !f.name("host", kMaxHostBytes, h.host) ||
            !f.name("version", kMaxNameBytes, h.version) || !f.names("roles", kMaxRoles, h.roles)) {
            return failure<DaemonMessage>(std::move(f.error));
        }
        h.protocol = static_cast<int>(protocol);
        return finish<DaemonMessage>(f, std::move(h));
    }
    if (type == "state") return parse_state(f);
    if (type == "event") {
        Event e;
        if (!f.name("kind", kMaxNameBytes, e.kind) || !f.text("text", kMaxTextBytes, e.text)) {
            return failure<DaemonMessage>(std::move(f.error));
        }
        return finish<DaemonMessage>(f, std::move(e));
    }
    if (type == "result") return parse_result(f);
    if (type == "pong") {
        Pong p;
        if (!f.integer("id", 0, kMaxMessageInteger, p.id)) {
            return failure<DaemonMessage>(std::move(f.error));
        }
        return finish<DaemonMessage>(f, p);
    }
    if (type == "welcome" || type == "command" || type == "ping") {
        return failure<DaemonMessage>("\"" + type + "\" is sent by the broker, not a daemon");
    }
    return failure<DaemonMessage>("unknown message type \"" + type.substr(0, kMaxNameBytes) + "\"");
}

Parsed<BrokerMessage> parse_broker_message(std::string_view body) {
    std::string error;
    const auto j = parse_object(body, error);
    if (!j) return failure<BrokerMessage>(std::move(error));
    const auto& type = (*j)["type"].get_ref<const std::string&>();
    Fields f(*j, type);
    if (type == "welcome") {
        Welcome w;
        uint64_t interval = 0;
        if (!f.name("member", kMaxNameBytes, w.member) ||
            !f.integer("state_interval", 1, kMaxStateInterval, interval)) {
            return failure<BrokerMessage>(std::move(f.error));
        }
        w.state_interval = static_cast<uint32_t>(interval);
        return finish<BrokerMessage>(f, std::move(w));
    }
    if (type == "command") return parse_command(f);
    if (type == "ping") {
        Ping p;
        if (!f.integer("id", 0, kMaxMessageInteger, p.id)) {
            return failure<BrokerMessage>(std::move(f.error));
        }
        return finish<BrokerMessage>(f, p);
    }
    if (type == "hello" || type == "state" || type == "event" || type == "result" ||
        type == "pong") {
        return failure<BrokerMessage>("\"" + type + "\" is sent by a daemon, not the broker");
    }
    return failure<BrokerMessage>("unknown message type \"" + type.substr(0, kMaxNameBytes) + "\"");
}

std::string serialise(const DaemonMessage& message) {
    return dump(std::visit(DaemonSerialiser{}, message));
}

std::string serialise(const BrokerMessage& message) {
    return dump(std::visit(BrokerSerialiser{}, message));
}

std::string_view message_type(const DaemonMessage& message) {
    static constexpr std::string_view kNames[] = {"hello", "state", "event", "result", "pong"};
    return kNames[message.index()];
}

std::string_view message_type(const BrokerMessage& message) {
    static constexpr std::string_view kNames[] = {"welcome", "command", "ping"};
    return kNames[message.index()];
}

}  // namespace nanotime::broker
