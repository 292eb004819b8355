#include "bus/redis_wire.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace vigil;
namespace wire = vigil::redis_wire;

namespace {

bus_alert sample_alert() {
    bus_alert a;
    a.user_id = "user:ü";
    a.seq = 18446744073709551615ull;
    a.alert_id = "0190a0b0-0000-7000-8000-000000000001";
    a.origin_node = "node-a:8000";
    a.delivery_recorded = true;
    static constexpr char text[] = "{\"type\":\"anomaly_detected\",\"x\":\"\0\r\n5:\"}";  // a NUL, CR LF, a length
    a.text = std::make_shared<std::string const>(text, sizeof text - 1);
    return a;
}

std::optional<wire::message> decode(std::string_view payload) {
    std::string_view error;
    return wire::decode(payload, error);
}

}  // namespace

TEST(RedisWire, AnAlertComesBackWithEveryFieldAndItsTextVerbatim) {
    auto const sent = sample_alert();
    auto const payload = wire::encode_alert("node-a:8000", sent);
    auto const got = decode(payload);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->what, wire::message::kind::alert);
    EXPECT_EQ(got->sender, "node-a:8000");
    EXPECT_EQ(got->alert.user_id, sent.user_id);
    EXPECT_EQ(got->alert.seq, sent.seq);
    EXPECT_EQ(got->alert.alert_id, sent.alert_id);
    EXPECT_EQ(got->alert.origin_node, sent.origin_node);
    EXPECT_TRUE(got->alert.delivery_recorded);
    ASSERT_TRUE(got->alert.text);
    EXPECT_EQ(*got->alert.text, *sent.text);
    // Compact: the text plus a few dozen bytes.
    EXPECT_LT(payload.size(), sent.text->size() + 120);
}

TEST(RedisWire, AControlMessageComesBackWhole) {
    bus_control c;
    c.what = bus_control::kind::connection_replaced;
    c.user_id = "alice";
    c.node = "b";
    c.connection_id = "0123456789abcdef";
    c.connected_at_ms = 1'700'000'000'123;
    auto const got = decode(wire::encode_control("b", c));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->what, wire::message::kind::control);
    EXPECT_EQ(got->sender, "b");
    EXPECT_EQ(got->control.what, bus_control::kind::connection_replaced);
    EXPECT_EQ(got->control.user_id, "alice");
    EXPECT_EQ(got->control.node, "b");
    EXPECT_EQ(got->control.connection_id, "0123456789abcdef");
    EXPECT_EQ(got->control.connected_at_ms, 1'700'000'000'123);
}

TEST(RedisWire, AProbeComesBack) {
    auto const got = decode(wire::encode_probe("a", "42"));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->what, wire::message::kind::probe);
    EXPECT_EQ(got->probe.nonce, "42");
}

TEST(RedisWire, RefusesMalformedPayloads) {
    auto const good = wire::encode_alert("a", sample_alert());
    std::string_view error;
    for (std::string const& bad :
         {std::string{}, std::string{"A"}, std::string{"X1"}, std::string{"A2"}, std::string{"A1"},
          std::string{"A19999999999:a"}, std::string{"A101:a"},  // a length with a leading zero
          std::string{"A11:a"},                                  // fields missing
          std::string{"A11:a1:a1:u1:i2:-11:0"},                  // negative seq
          std::string{"A11:a1:a1:u1:i1:71:2"},                   // recorded is 0 or 1
          std::string{"A10:1:a1:u1:i1:71:0"},                    // no sender
          std::string{"A11:a1:a0:1:i1:71:0"},                    // no user
          std::string{"C11:b1:71:b1:u1:c1:0"},                   // unknown control kind
          std::string{"C11:b1:11:b1:u1:c1:0x"},                  // trailing bytes
          std::string{"P11:a2:4"}, good.substr(0, 10)}) {
        error = {};
        EXPECT_FALSE(wire::decode(bad, error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
}

TEST(RedisWire, BoundsFieldsAndText) {
    std::string_view error;
    bus_alert a = sample_alert();
    a.user_id.assign(wire::max_field_bytes + 1, 'u');
    EXPECT_FALSE(wire::decode(wire::encode_alert("a", a), error));
    a = sample_alert();
    a.text = std::make_shared<std::string const>(wire::max_text_bytes + 1, 'x');
    EXPECT_FALSE(wire::decode(wire::encode_alert("a", a), error));
    a.text = std::make_shared<std::string const>(wire::max_text_bytes, 'x');
    EXPECT_TRUE(wire::decode(wire::encode_alert("a", a), error));
}

TEST(RedisWire, EveryTruncationIsRefusedOrShorterText) {
    // Cutting a valid payload anywhere never yields another valid message,
    // except inside the alert text (which runs to the end).
    auto const sent = sample_alert();
    auto const payload = wire::encode_alert("a", sent);
    auto const header = payload.size() - sent.text->size();
    std::string_view error;
    for (std::size_t n = 0; n < header; ++n) EXPECT_FALSE(wire::decode(payload.substr(0, n), error)) << n;
}

TEST(RedisWire, ShardsAreStableAndSpread) {
    // FNV-1a: fixed values, whatever the platform or build.
    EXPECT_EQ(wire::shard_of(""), 2166136261u % wire::shard_count);
    EXPECT_EQ(wire::shard_of("a"), 0xe40c292cu % wire::shard_count);
    std::set<std::uint32_t> used;
    for (int i = 0; i < 1000; ++i) {
        auto const s = wire::shard_of("user-" + std::to_string(i));
        EXPECT_LT(s, wire::shard_count);
        used.insert(s);
    }
    EXPECT_EQ(used.size(), wire::shard_count);
}

TEST(RedisWire, NamesUnderAPrefix) {
    wire::names const n{"vigil"};
    EXPECT_EQ(n.alert_channel(3), "vigil:alerts:3");
    EXPECT_EQ(n.control_channel(), "vigil:control");
    EXPECT_EQ(n.probe_channel("a"), "vigil:probe:a");
    EXPECT_EQ(n.nodes_key(), "vigil:nodes");
    EXPECT_EQ(n.presence_key("a"), "vigil:presence:a");
    EXPECT_EQ(n.snapshot_key("abc-1", "host:8000"), "vigil:snapshot:abc-1:host:8000");
}

TEST(RedisWire, PresenceValuesAndPointers) {
    connection_stats const sent{"alice smith", 1'700'000'000'000, 1'700'000'005'000, "0123456789abcdef"};
    EXPECT_EQ(wire::presence_field(sent), "0123456789abcdef");
    auto const s = wire::decode_presence(wire::presence_field(sent), wire::encode_presence(sent));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->user_id, "alice smith");  // a user id may hold spaces: it runs to the end
    EXPECT_EQ(s->connection_id, "0123456789abcdef");
    EXPECT_EQ(s->connected_at_ms, 1'700'000'000'000);
    EXPECT_EQ(s->last_heartbeat_ms, 1'700'000'005'000);
    // Without a connection id, the user id is the field, and no id comes back.
    connection_stats const anonymous{"bob", 1, 2, {}};
    EXPECT_EQ(wire::presence_field(anonymous), "bob");
    auto const b = wire::decode_presence("bob", wire::encode_presence(anonymous));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->user_id, "bob");
    EXPECT_TRUE(b->connection_id.empty());
    for (char const* bad : {"", "1", "1 2", "1 2 ", " 1 2 u", "1  2 u", "x 2 u", "1 2x u", "99999999999999999999 1 u"})
        EXPECT_FALSE(wire::decode_presence("c", bad)) << bad;
    EXPECT_FALSE(wire::decode_presence("", "1 2 u"));
    EXPECT_FALSE(wire::decode_presence(std::string(wire::max_field_bytes + 1, 'c'), "1 2 u"));

    auto const p = wire::decode_pointer(wire::encode_pointer({"0a1b-17", 19000}));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->generation, "0a1b-17");
    EXPECT_EQ(p->count, 19000u);
    for (char const* bad : {"", "g", " 1", "g -1", "G 1", "g:1 1", "g 1000001", "g 1x"})
        EXPECT_FALSE(wire::decode_pointer(bad)) << bad;
}
