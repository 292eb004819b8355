#pragma once
// Web Push for committed alerts (SPEC section 8, docs/notifications.md,
// docs/decisions/0022-push-delivery.md).
//
// - Before a commit it marks the alerts their user does not want pushed now
//   (a snoozed stream, quiet hours for the severity; never critical) as
//   suppressed: they are stored and delivered live as usual.
// - After a commit, an alert that is not suppressed and whose user has no
//   live connection anywhere (this node's registry, the bus's presence of
//   the others) is pushed to each of the user's subscriptions, by the node
//   that committed it. Alerts of one group (the user and the group key)
//   within the group window share one Topic and notification tag, and the
//   payload counts them.
// - After the first acknowledgement of an alert that was pushed, an
//   "acknowledged" push replaces its notification on every device.
// - The work (store reads, encryption, the requests) runs on the
//   dispatcher's own threads: a push never delays a commit, the publish's
//   answer nor delivery to live connections. At most max_pending jobs wait;
//   beyond that a push fails at once (vigil_push_failed_total{reason="queue_full"}).
// - 404/410 from a push service forgets the subscription; the sender
//   retries 429, 5xx and silence as push/push_response.hpp says.
#include "alerts/alert_observer.hpp"
#include "push/push_sender.hpp"
#include "push/vapid.hpp"
#include "store/alert_store.hpp"
#include "store/push_state.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace vigil {

struct push_dispatch_options {
    std::string subject = "mailto:vigil@localhost";  // VAPID `sub`
    std::int64_t ttl_seconds = 86'400;
    std::int64_t group_window_ms = 300'000;
    bool allow_insecure_endpoints = false;  // plain http:// to loopback (tests, --dev only)
    std::size_t max_pending = 10'000;       // jobs waiting for the dispatcher's thread
    push::sender_options sender;
};

class push_dispatcher final : public alert_observer {
public:
    push_dispatcher(alert_store& store, push_state& state, push::vapid_key key, push_dispatch_options options);
    ~push_dispatcher() override;  // stop()s
    push_dispatcher(push_dispatcher const&) = delete;
    push_dispatcher& operator=(push_dispatcher const&) = delete;

    // The base64url of the VAPID public key (GET /api/v1/push/vapid-public-key).
    std::string const& public_key() const noexcept { return key_.public_key(); }
    push_dispatch_options const& options() const noexcept { return options_; }
    push_state& state() noexcept { return state_; }

    // Sends the test notification to each of the user's subscriptions and
    // returns how many it has (0: none, nothing sent). Reads the store: call
    // it off the I/O threads. Throws store_error.
    std::size_t send_test(std::string const& user_id);

    // Ends what is queued or in flight and joins the threads. Idempotent.
    void stop();

    void before_commit(std::vector<new_alert>& alerts, std::int64_t now_ms) noexcept override;
    void committed(stored_alert const& alert, bool live) noexcept override;
    void acknowledged(std::string const& alert_id, std::string const& user_id, std::string const& by) noexcept override;

    // The notification tag and Topic of a user's group: the base64url of the
    // first 24 bytes of SHA-256(user_id "\n" group_key), 32 characters.
    static std::string group_topic(std::string_view user_id, std::string_view group_key);

private:
    struct impl;
    alert_store& store_;
    push_state& state_;
    push::vapid_key key_;
    push_dispatch_options options_;
    std::shared_ptr<impl> impl_;
};

}  // namespace vigil
