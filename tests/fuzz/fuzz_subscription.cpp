// Fuzz target: the broker subscription channel as a peer can speak it.
// Stream bytes are cut into frames by the subscription MessageReader (the
// daemon → broker direction when the first byte is even, broker → daemon
// when odd; the rest of that byte is the chunk size the bytes arrive in).
// Every frame either parses or carries an error; what parses serialises
// to JSON that parses back to the same message (both sides agree).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "broker/subscription_messages.hpp"

using namespace nanotime::broker;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

template <typename Message>
void run(std::span<const uint8_t> rest, size_t chunk) {
    MessageReader<Message> reader;
    while (!rest.empty() && !reader.failed()) {
        const size_t n = std::min(chunk, rest.size());
        reader.feed(rest.first(n));
        rest = rest.subspan(n);
        while (auto parsed = reader.next()) {
            check(parsed->message.has_value() != !parsed->error.empty());
            if (!parsed->message) continue;
            const std::string text = serialise(*parsed->message);
            check(text.size() <= kMaxSubscriptionFrame + 64);
            Parsed<Message> again;
            if constexpr (std::is_same_v<Message, DaemonMessage>) {
                again = parse_daemon_message(text);
            } else {
                again = parse_broker_message(text);
            }
            check(again.message.has_value() && *again.message == *parsed->message);
        }
    }
    check(reader.buffered() <= kMaxSubscriptionFrame + 4 + chunk);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t control = data[0];
    const std::span<const uint8_t> rest(data + 1, size - 1);
    const size_t chunk = 1 + (control >> 1);
    if ((control & 1) == 0) {
        run<DaemonMessage>(rest, chunk);
    } else {
        run<BrokerMessage>(rest, chunk);
    }
    return 0;
}
