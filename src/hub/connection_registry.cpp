#include "hub/connection_registry.hpp"

namespace vigil {

connection_registry::shard& connection_registry::shard_for(std::string const& user_id) const {
    return shards_[std::hash<std::string>{}(user_id) % shard_count];
}

void connection_registry::attach(std::shared_ptr<subscriber> const& s) {
    std::shared_ptr<subscriber> previous;
    {
        auto& sh = shard_for(s->user_id());
        std::lock_guard lock{sh.mutex};
        auto& slot = sh.users[s->user_id()];
        previous = slot.weak.lock();
        slot = {s.get(), s};
    }
    if (previous && previous != s) previous->close(close_code::replaced, "replaced by a newer connection");
    if (closing_.load(std::memory_order_acquire)) s->close(closing_code_, closing_reason_);
}

void connection_registry::detach(subscriber const* s) {
    auto& sh = shard_for(s->user_id());
    std::lock_guard lock{sh.mutex};
    auto it = sh.users.find(s->user_id());
    if (it == sh.users.end()) return;
    if (it->second.raw == s || it->second.weak.expired()) sh.users.erase(it);
}

bool connection_registry::deliver(std::string const& user_id, sequenced_message const& message) {
    std::shared_ptr<subscriber> target;
    {
        auto& sh = shard_for(user_id);
        std::lock_guard lock{sh.mutex};
        auto it = sh.users.find(user_id);
        if (it == sh.users.end()) return false;
        target = it->second.weak.lock();
    }
    return target && target->deliver(message);
}

void connection_registry::close_if(std::string const& user_id, std::uint16_t code, std::string_view reason,
                                   std::function<bool(connection_stats const&)> const& should) {
    std::shared_ptr<subscriber> target;
    {
        auto& sh = shard_for(user_id);
        std::lock_guard lock{sh.mutex};
        auto it = sh.users.find(user_id);
        if (it != sh.users.end()) target = it->second.weak.lock();
    }
    if (target && should(target->stats())) target->close(code, reason);
}

std::optional<connection_stats> connection_registry::stats(std::string const& user_id) const {
    std::shared_ptr<subscriber> target;
    {
        auto& sh = shard_for(user_id);
        std::lock_guard lock{sh.mutex};
        auto it = sh.users.find(user_id);
        if (it != sh.users.end()) target = it->second.weak.lock();
    }
    if (!target) return std::nullopt;
    return target->stats();
}

bool connection_registry::connected(std::string const& user_id) const {
    auto& sh = shard_for(user_id);
    std::lock_guard lock{sh.mutex};
    auto it = sh.users.find(user_id);
    return it != sh.users.end() && !it->second.weak.expired();
}

std::vector<std::shared_ptr<subscriber>> connection_registry::snapshot() const {
    std::vector<std::shared_ptr<subscriber>> out;
    for (auto& sh : shards_) {
        std::lock_guard lock{sh.mutex};
        for (auto const& [user, e] : sh.users)
            if (auto s = e.weak.lock()) out.push_back(std::move(s));
    }
    return out;
}

std::vector<connection_stats> connection_registry::all_stats() const {
    std::vector<connection_stats> out;
    for (auto const& s : snapshot()) out.push_back(s->stats());
    return out;
}

std::size_t connection_registry::size() const {
    std::size_t n = 0;
    for (auto& sh : shards_) {
        std::lock_guard lock{sh.mutex};
        n += sh.users.size();
    }
    return n;
}

void connection_registry::tick_shard(std::size_t shard, std::int64_t now_ms) const {
    std::vector<std::shared_ptr<subscriber>> due;  // usually a few of thousands
    {
        auto& sh = shards_[shard];
        std::lock_guard lock{sh.mutex};
        for (auto const& [user, e] : sh.users)
            if (e.raw->tick_due(now_ms))
                if (auto s = e.weak.lock()) due.push_back(std::move(s));
    }
    for (auto const& s : due) s->on_tick(now_ms);
}

void connection_registry::close_all(std::uint16_t code, std::string_view reason) {
    if (!closing_.load(std::memory_order_acquire)) {
        closing_code_ = code;
        closing_reason_ = std::string{reason};
        closing_.store(true, std::memory_order_release);
    }
    for (auto const& s : snapshot()) s->close(code, reason);
}

}  // namespace vigil
