#pragma once
// The WebSocket close codes the server sends, defined once. docs/protocol.md's
// close-code table and the TypeScript client's list (clients/ts/src/decisions.ts)
// are held to this one by tests/unit/close_codes_test.cpp.
#include <array>
#include <cstdint>
#include <string_view>

namespace vigil {

namespace close_code {
inline constexpr std::uint16_t going_away = 1001;        // server shutdown
inline constexpr std::uint16_t unsupported_data = 1003;  // a binary message
inline constexpr std::uint16_t policy_violation = 1008;  // message rate limit
inline constexpr std::uint16_t too_big = 1009;           // message over max_message_bytes
inline constexpr std::uint16_t heartbeat_timeout = 4000;
inline constexpr std::uint16_t replaced = 4001;  // a newer connection of the same user
inline constexpr std::uint16_t token_expired = 4003;
inline constexpr std::uint16_t slow_consumer = 4008;  // outgoing queue full

struct info {
    std::uint16_t code;
    std::string_view name;
};

// Every code above, in ascending order.
inline constexpr std::array<info, 8> all = {{
    {going_away, "going_away"},
    {unsupported_data, "unsupported_data"},
    {policy_violation, "policy_violation"},
    {too_big, "too_big"},
    {heartbeat_timeout, "heartbeat_timeout"},
    {replaced, "replaced"},
    {token_expired, "token_expired"},
    {slow_consumer, "slow_consumer"},
}};
}  // namespace close_code

}  // namespace vigil
