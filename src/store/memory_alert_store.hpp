#pragma once
// The volatile engine: everything in process memory, lost on exit. For tests,
// benchmarks of the delivery path, and deployments that accept losing
// unacknowledged alerts on restart. Single node only; every instance starts a
// new epoch, so clients that resume after a restart start over.
#include "common/huge_page_resource.hpp"
#include "store/alert_store.hpp"

#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <unordered_map>

namespace vigil {

class memory_alert_store final : public alert_store {
public:
    explicit memory_alert_store(retention_policy retention = {});

    std::string const& epoch() const noexcept override { return epoch_; }
    write_result write(write_batch const& batch, std::int64_t now_ms) override;
    replay_page after(std::string_view user_id, std::uint64_t after_seq, bool unacked_only, std::size_t limit,
                      bool with_frames) override;
    std::optional<stored_alert> get(std::string_view alert_id) override;
    std::optional<annotated_frame> frame(std::string_view alert_id) override;
    std::vector<stored_alert> history(history_query const& q) override;
    // A scan of every retained alert: this engine serves one node, whose bus
    // never loses other nodes, so the feed only has to be right.
    feed_page feed(std::string const& cursor, std::size_t limit) override;
    std::size_t prune_expired(std::int64_t now_ms, std::size_t max_rows) override;
    std::uint64_t last_seq(std::string_view user_id) override;

private:
    using allocator = std::pmr::polymorphic_allocator<>;
    struct text_less {
        using is_transparent = void;
        bool operator()(std::string_view a, std::string_view b) const { return a < b; }
    };
    struct text_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    // An alert as kept; its id is the map key. Text lives in the arena.
    struct record {
        explicit record(allocator a)
            : user_id(a), stream_id(a), detection_json(a), timestamp(a), idempotency_key(a), acked_by(a) {}
        std::pmr::string user_id, stream_id, detection_json, timestamp, idempotency_key, acked_by;
        std::uint64_t seq = 0;
        std::uint64_t commit_no = 0;  // order of commits across users, for the feed
        std::int64_t created_ms = 0;
        std::optional<std::int64_t> first_delivered_ms;
        std::int64_t delivery_count = 0;
        std::optional<std::int64_t> acked_ms;
        std::shared_ptr<annotated_frame const> frame;  // large and rare: the ordinary heap
    };
    using alert_map = std::pmr::map<std::pmr::string, record, text_less>;  // by id: time order
    struct user_log {
        explicit user_log(allocator a) : by_seq(a) {}
        std::uint64_t last_seq = 0;
        std::pmr::map<std::uint64_t, alert_map::iterator> by_seq;
    };

    static stored_alert to_stored(alert_map::value_type const& entry, bool with_frame_bytes);
    void erase_locked(alert_map::iterator it);

    retention_policy retention_;
    std::string const epoch_;
    std::mutex mutex_;
    std::uint64_t commits_ = 0;  // the last commit_no given
    // Everything below allocates from the arena (huge pages, blocks reused by the pool).
    huge_page_resource arena_;
    std::pmr::unsynchronized_pool_resource pool_;
    alert_map alerts_;
    std::pmr::unordered_map<std::pmr::string, user_log, text_hash, std::equal_to<>> users_;
};

}  // namespace vigil
