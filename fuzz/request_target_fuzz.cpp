// Every HTTP request target: routing, percent-decoding, query parameters, and
// the log redaction applied to them.
#include "common/log.hpp"
#include "net/request_target.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const raw{reinterpret_cast<char const*>(data), size};
    if (auto const t = vigil::net::parse_request_target(raw)) {
        if (t->path.size() > 8 || t->query.size() > 32) __builtin_trap();
        if (auto const since = t->param("since")) (void)vigil::net::parse_uint(*since);
    }
    (void)vigil::net::valid_websocket_key(raw);
    // Whatever the API would read as a credential is gone from what gets logged.
    if (auto const logged = vigil::net::parse_request_target(vigil::log::redact_target(raw))) {
        for (auto const& [key, value] : logged->query)
            if (vigil::log::is_credential_parameter(key) && !value.empty() && value != "REDACTED") __builtin_trap();
    }
    return 0;
}
