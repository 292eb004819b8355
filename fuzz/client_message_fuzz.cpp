// Every WebSocket text message a client sends goes through this parser.
#include "proto/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const text{reinterpret_cast<char const*>(data), size};
    auto const msg = vigil::proto::parse_client_message(text);
    if (!msg) {
        (void)vigil::proto::error_message(vigil::proto::code_name(msg.error()), text.substr(0, 64));
    } else if (!msg->alert_id.empty()) {
        (void)vigil::proto::ack_ok_message(msg->alert_id);  // echoes client text: must stay valid JSON
    }
    return 0;
}
