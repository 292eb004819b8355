#pragma once
// What the Redis bus puts on the wire: channel and key names, the shard of a
// user, and the payloads of its messages (docs/decisions/0020-redis-bus.md).
// Pure: no I/O. Everything read back from Redis is hostile until decode_*
// accepts it (any node, or anyone else with access to the server, can publish
// on these channels).
//
// A payload is a tag and version ("A1", "C1", "P1"), then fields, each a
// decimal length, ':' and that many bytes (a netstring without the comma):
//   A1 sender origin_node user_id alert_id seq delivery_recorded  TEXT...
//   C1 sender kind node user_id connection_id connected_at_ms
//   P1 sender nonce
// An alert's anomaly_detected text follows its last field verbatim, to the
// end of the payload. `sender` is the publishing engine's node id; a node
// ignores what it sent itself.
#include "bus/alert_bus.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::redis_wire {

// Alerts are spread over this many channels by user. Every node subscribes to
// all of them, so the number only has to be the same on every node; it is a
// constant of the format, not a setting, for that reason.
inline constexpr std::uint32_t shard_count = 16;

// Bounds on what is accepted from the wire.
inline constexpr std::size_t max_field_bytes = 1024;            // ids, node names
inline constexpr std::size_t max_text_bytes = 4 * 1024 * 1024;  // one anomaly_detected message
inline constexpr std::size_t max_presence_entries = 1'000'000;  // one node's snapshot

// FNV-1a (32 bits) of the user id, modulo shard_count: the same on every
// node, build and platform (std::hash is none of these).
std::uint32_t shard_of(std::string_view user_id) noexcept;

// Channel and key names under a prefix ("vigil" by default), so that several
// clusters can share one Redis server.
class names {
public:
    explicit names(std::string prefix);

    std::string alert_channel(std::uint32_t shard) const;                     // prefix:alerts:{shard}
    std::string const& control_channel() const noexcept { return control_; }  // prefix:control
    std::string probe_channel(std::string_view node) const;                   // prefix:probe:{node}
    // Sorted set of node ids, scored by the server's time (ms) of their last presence write.
    std::string const& nodes_key() const noexcept { return nodes_; }
    // String "<generation> <count>": which snapshot holds the node's connections now.
    std::string presence_key(std::string_view node) const;  // prefix:presence:{node}
    // Hash of the node's connections (encode_presence), written once, never changed.
    // Generations contain no ':', so node ids with ':' cannot make two names meet.
    std::string snapshot_key(std::string_view generation, std::string_view node) const;

private:
    std::string prefix_;
    std::string control_;
    std::string nodes_;
};

struct probe {
    std::string nonce;
};

struct message {
    enum class kind : std::uint8_t { alert, control, probe };
    kind what = kind::alert;
    std::string sender;
    bus_alert alert;      // kind::alert
    bus_control control;  // kind::control
    struct probe probe;   // kind::probe
};

std::string encode_alert(std::string_view sender, bus_alert const& alert);
std::string encode_control(std::string_view sender, bus_control const& control);
std::string encode_probe(std::string_view sender, std::string_view nonce);

// Parses one payload. On anything malformed returns nothing and sets `error`
// to a short fixed reason (for logs and metrics).
std::optional<message> decode(std::string_view payload, std::string_view& error);

// One connection in a presence snapshot: the hash field is its connection id
// (its user id when it has none), the value "<connected_at_ms>
// <last_heartbeat_ms> <user_id>" (the user id runs to the end).
std::string_view presence_field(connection_stats const& stats) noexcept;
std::string encode_presence(connection_stats const& stats);
std::optional<connection_stats> decode_presence(std::string_view field, std::string_view value);

// A presence key's value: "<generation> <count>". A generation is 1-64 bytes of
// [0-9a-z-]; count 0 means the node holds no connection (and has no snapshot).
struct presence_pointer {
    std::string generation;
    std::size_t count = 0;
};
std::string encode_pointer(presence_pointer const& p);
std::optional<presence_pointer> decode_pointer(std::string_view value);

}  // namespace vigil::redis_wire
