// broker_transport.cpp - nanotimectl's broker client (see broker_transport.hpp).
#include "nanotimectl/broker_transport.hpp"

#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>

namespace nanotime::ctl {
namespace {

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t collect(char* data, size_t size, size_t count, void* user) {
    auto* out = static_cast<std::string*>(user);
    const size_t n = size * count;
    if (out->size() + n > kMaxBrokerReply) return 0;  // aborts the transfer
    out->append(data, n);
    return n;
}

}  // namespace

std::string path_segment(std::string_view segment) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : segment) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

std::optional<BrokerReply> broker_call(const BrokerEndpoint& broker, std::string_view method,
                                       const std::string& path, const std::string& body,
                                       std::string* error) {
    auto fail = [&](const std::string& why) -> std::optional<BrokerReply> {
        if (error) *error = why;
        return std::nullopt;
    };
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return fail("libcurl could not be initialised");
    CURL* c = curl.get();
    std::string url = broker.url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += path;
    BrokerReply reply;
    char curl_error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_3));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(broker.timeout_ms));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
    if (!broker.ca_certificate.empty())
        curl_easy_setopt(c, CURLOPT_CAINFO, broker.ca_certificate.c_str());
    if (!broker.certificate.empty()) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, broker.certificate.c_str());
        curl_easy_setopt(c, CURLOPT_SSLKEY, broker.private_key.c_str());
    }
    curl_slist* raw = curl_slist_append(nullptr, "Accept: application/json");
    std::unique_ptr<curl_slist, SlistDeleter> headers(raw);
    if (!body.empty()) raw = curl_slist_append(raw, "Content-Type: application/json");
    if (!broker.token.empty()) {
        // curl_slist_append copies the text.
        const std::string bearer = "Authorization: Bearer " + broker.token;
        raw = curl_slist_append(raw, bearer.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, raw);
    const std::string verb(method);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, verb.c_str());
    if (verb == "POST" || !body.empty()) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        return fail("broker " + url + ": " +
                    (curl_error[0] != '\0' ? std::string(curl_error) : curl_easy_strerror(rc)));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
    return reply;
}

std::string describe_error(const BrokerReply& reply) {
    const nlohmann::json j = nlohmann::json::parse(reply.body, nullptr, false);
    std::string text;
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
        text = j["error"].get<std::string>();
    } else {
        text = reply.body.substr(0, 200);
    }
    return std::to_string(reply.status) + (text.empty() ? "" : ": " + text);
}

std::optional<std::string> broker_control(const BrokerEndpoint& broker, const std::string& member,
                                          const std::string& request, std::string* error) {
    std::optional<BrokerReply> reply = broker_call(
        broker, "POST", "/v1/members/" + path_segment(member) + "/control", request, error);
    if (!reply) return std::nullopt;
    if (reply->status != 200) {
        if (error) *error = "broker: " + describe_error(*reply);
        return std::nullopt;
    }
    return std::move(reply->body);
}

}  // namespace nanotime::ctl
