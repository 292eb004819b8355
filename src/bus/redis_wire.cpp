#include "bus/redis_wire.hpp"

#include <charconv>
#include <memory>

namespace vigil::redis_wire {

std::uint32_t shard_of(std::string_view user_id) noexcept {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : user_id) {
        h ^= c;
        h *= 16777619u;
    }
    return h % shard_count;
}

names::names(std::string prefix)
    : prefix_(std::move(prefix)), control_(prefix_ + ":control"), nodes_(prefix_ + ":nodes") {}

std::string names::alert_channel(std::uint32_t shard) const { return prefix_ + ":alerts:" + std::to_string(shard); }

std::string names::probe_channel(std::string_view node) const {
    std::string out = prefix_ + ":probe:";
    out += node;
    return out;
}

std::string names::presence_key(std::string_view node) const {
    std::string out = prefix_ + ":presence:";
    out += node;
    return out;
}

std::string names::snapshot_key(std::string_view generation, std::string_view node) const {
    std::string out = prefix_ + ":snapshot:";
    out += generation;
    out += ':';
    out += node;
    return out;
}

namespace {

void put(std::string& out, std::string_view field) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
}

template <class I>
void put_number(std::string& out, I value) {
    char buf[24];
    auto const [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    put(out, std::string_view(buf, std::size_t(end - buf)));
}

// Reads fields off the front of a payload.
class reader {
public:
    explicit reader(std::string_view in) : rest_(in) {}

    // One length-prefixed field of at most `max` bytes.
    bool field(std::string_view& out, std::size_t max = max_field_bytes) {
        std::size_t len = 0;
        std::size_t digits = 0;
        while (digits < rest_.size() && rest_[digits] >= '0' && rest_[digits] <= '9') {
            if (digits == 8) return false;  // longer than any bound
            len = len * 10 + std::size_t(rest_[digits] - '0');
            ++digits;
        }
        if (digits == 0 || (digits > 1 && rest_[0] == '0')) return false;
        if (digits >= rest_.size() || rest_[digits] != ':') return false;
        if (len > max || rest_.size() - digits - 1 < len) return false;
        out = rest_.substr(digits + 1, len);
        rest_.remove_prefix(digits + 1 + len);
        return true;
    }

    template <class I>
    bool number(I& out) {
        std::string_view text;
        if (!field(text, 20)) return false;
        auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
    }

    std::string_view rest() const noexcept { return rest_; }

private:
    std::string_view rest_;
};

}  // namespace

std::string encode_alert(std::string_view sender, bus_alert const& a) {
    std::string_view const text = a.text ? std::string_view{*a.text} : std::string_view{};
    std::string out;
    out.reserve(2 + 64 + sender.size() + a.origin_node.size() + a.user_id.size() + a.alert_id.size() + text.size());
    out += "A1";
    put(out, sender);
    put(out, a.origin_node);
    put(out, a.user_id);
    put(out, a.alert_id);
    put_number(out, a.seq);
    put(out, a.delivery_recorded ? "1" : "0");
    out += text;
    return out;
}

std::string encode_control(std::string_view sender, bus_control const& c) {
    std::string out = "C1";
    put(out, sender);
    put_number(out, unsigned(c.what));
    put(out, c.node);
    put(out, c.user_id);
    put(out, c.connection_id);
    put_number(out, c.connected_at_ms);
    if (c.what == bus_control::kind::user_message && c.text) out += *c.text;
    return out;
}

std::string encode_probe(std::string_view sender, std::string_view nonce) {
    std::string out = "P1";
    put(out, sender);
    put(out, nonce);
    return out;
}

std::optional<message> decode(std::string_view payload, std::string_view& error) {
    auto bad = [&](std::string_view why) -> std::optional<message> {
        error = why;
        return std::nullopt;
    };
    if (payload.size() < 2) return bad("short payload");
    std::string_view const tag = payload.substr(0, 2);
    reader in{payload.substr(2)};
    std::string_view sender;
    message m;
    if (tag == "A1") {
        std::string_view origin, user, id, recorded;
        if (!in.field(sender) || sender.empty() || !in.field(origin) || !in.field(user) || user.empty() ||
            !in.field(id) || !in.number(m.alert.seq) || !in.field(recorded, 1) || (recorded != "0" && recorded != "1"))
            return bad("malformed alert");
        if (in.rest().size() > max_text_bytes) return bad("alert text too large");
        m.what = message::kind::alert;
        m.alert.origin_node = origin;
        m.alert.user_id = user;
        m.alert.alert_id = id;
        m.alert.delivery_recorded = recorded == "1";
        m.alert.text = std::make_shared<std::string const>(in.rest());
    } else if (tag == "C1") {
        unsigned kind = 0;
        std::string_view node, user, connection;
        if (!in.field(sender) || sender.empty() || !in.number(kind) || !in.field(node) || !in.field(user) ||
            user.empty() || !in.field(connection) || !in.number(m.control.connected_at_ms))
            return bad("malformed control");
        if (kind == unsigned(bus_control::kind::user_message)) {
            if (in.rest().empty() || in.rest().size() > max_text_bytes) return bad("malformed user message");
            m.control.text = std::make_shared<std::string const>(in.rest());
        } else if (kind != unsigned(bus_control::kind::connection_replaced) || !in.rest().empty()) {
            return bad(kind == unsigned(bus_control::kind::connection_replaced) ? "malformed control"
                                                                                : "unknown control kind");
        }
        m.what = message::kind::control;
        m.control.what = bus_control::kind(kind);
        m.control.node = node;
        m.control.user_id = user;
        m.control.connection_id = connection;
    } else if (tag == "P1") {
        std::string_view nonce;
        if (!in.field(sender) || sender.empty() || !in.field(nonce) || !in.rest().empty())
            return bad("malformed probe");
        m.what = message::kind::probe;
        m.probe.nonce = nonce;
    } else {
        return bad("unknown message tag");
    }
    m.sender = sender;
    return m;
}

std::string_view presence_field(connection_stats const& s) noexcept {
    return s.connection_id.empty() ? std::string_view{s.user_id} : std::string_view{s.connection_id};
}

std::string encode_presence(connection_stats const& s) {
    return std::to_string(s.connected_at_ms) + ' ' + std::to_string(s.last_heartbeat_ms) + ' ' + s.user_id;
}

namespace {

// A whole-string decimal of at most 20 characters.
template <class I>
bool parse_whole(std::string_view text, I& out) {
    if (text.empty() || text.size() > 20) return false;
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

std::optional<connection_stats> decode_presence(std::string_view field, std::string_view value) {
    if (field.empty() || field.size() > max_field_bytes) return std::nullopt;
    auto const first = value.find(' ');
    if (first == std::string_view::npos) return std::nullopt;
    auto const second = value.find(' ', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    connection_stats s;
    if (!parse_whole(value.substr(0, first), s.connected_at_ms) ||
        !parse_whole(value.substr(first + 1, second - first - 1), s.last_heartbeat_ms))
        return std::nullopt;
    auto const user = value.substr(second + 1);
    if (user.empty() || user.size() > max_field_bytes) return std::nullopt;
    s.user_id = user;
    if (field != user) s.connection_id = field;
    return s;
}

std::string encode_pointer(presence_pointer const& p) { return p.generation + ' ' + std::to_string(p.count); }

std::optional<presence_pointer> decode_pointer(std::string_view value) {
    auto const space = value.find(' ');
    if (space == std::string_view::npos || space == 0 || space > 64) return std::nullopt;
    presence_pointer p;
    p.generation = value.substr(0, space);
    for (char c : p.generation)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-')) return std::nullopt;
    if (!parse_whole(value.substr(space + 1), p.count) || p.count > max_presence_entries) return std::nullopt;
    return p;
}

}  // namespace vigil::redis_wire
