#pragma once
// The volatile engine: everything in process memory, lost on exit. For tests,
// benchmarks of the delivery path, and deployments that accept losing
// unacknowledged alerts on restart. Single node only.
#include "store/alert_store.hpp"

#include <map>
#include <mutex>
#include <unordered_map>

namespace vigil {

class memory_alert_store final : public alert_store {
public:
    explicit memory_alert_store(retention_policy retention = {});

    write_result write(write_batch const& batch, std::int64_t now_ms) override;
    std::vector<stored_alert> after(std::string_view user_id, std::uint64_t after_seq,
                                    bool unacked_only, std::size_t limit, bool with_frames) override;
    std::optional<stored_alert> get(std::string_view alert_id) override;
    std::optional<annotated_frame> frame(std::string_view alert_id) override;
    std::vector<stored_alert> history(history_query const& q) override;
    std::size_t prune_expired(std::int64_t now_ms, std::size_t max_rows) override;
    std::uint64_t last_seq(std::string_view user_id) override;

private:
    struct record {
        stored_alert alert;
        std::optional<annotated_frame> frame;
        std::string idempotency_key;
    };
    struct user_log {
        std::uint64_t last_seq = 0;
        std::map<std::uint64_t, std::string> by_seq;  // seq -> alert id
    };
    void erase_locked(std::string const& alert_id);

    retention_policy retention_;
    std::mutex mutex_;
    std::map<std::string, record, std::less<>> alerts_;  // by id: time order
    std::unordered_map<std::string, user_log> users_;
};

}  // namespace vigil
