#pragma once
// Webhooks (SPEC section 7, docs/handling.md "Webhooks"): sends what the
// store's outbox holds. Every engine writes one row per configured URL, with
// its final body, in the transaction of each handling change
// (store/handling_store.hpp); this POSTs them and records how it went.
//
// - One thread of its own, since store calls block: every 250 ms, and at
//   once when poked after a commit, it claims the due rows (each leased for
//   30 s, so that another node sends it only if this one died first) and
//   POSTs each, signed (webhook_signature), at most 8 at a time.
// - A 2xx answer ends a row. Any other answer, or none (connecting and the
//   answer each have 10 s), is a failed attempt: the row is due again after
//   webhook_backoff(). Rows older than 72 hours are dropped, at start and
//   every hour: a receiver gone that long is gone.
// - Requests go through push::push_sender: TLS verified against the
//   system's store, keep-alive per origin. Unlike push endpoints, webhook
//   URLs are the administrator's: plain http:// and private addresses are
//   allowed.
// - Logs name a URL's origin only (its path may carry a token), never the
//   secret.
// - Stopping leaves rows in flight leased: whoever runs next sends them
//   again once their lease ends (delivery is at least once).
#include "store/handling_store.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct webhook_options {
    std::vector<std::string> urls;  // valid (config validates them)
    std::string secret;
    std::chrono::milliseconds poll_interval{250};
    std::chrono::milliseconds lease{30'000};
    std::size_t claim_limit = 32;
    std::size_t max_in_flight = 8;
    std::chrono::milliseconds timeout{10'000};  // to connect, then for the answer
    std::chrono::hours keep{72};
    std::chrono::minutes drop_interval{60};
};

class webhook_dispatcher {
public:
    // Hands the URLs to the store (call it before anything is written) and
    // starts the thread. Throws store_error.
    webhook_dispatcher(handling_store& store, webhook_options options);
    ~webhook_dispatcher();  // stop()s
    webhook_dispatcher(webhook_dispatcher const&) = delete;
    webhook_dispatcher& operator=(webhook_dispatcher const&) = delete;

    // A commit applied a change: look for rows now rather than at the next tick.
    void poke() noexcept;

    // Joins the thread; what is in flight stays leased. Idempotent.
    void stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

// X-Vigil-Signature's value: "sha256=" and the lowercase hex of
// HMAC-SHA256(secret, body).
std::string webhook_signature(std::string_view secret, std::string_view body);

// How long a row waits after its `failures`-th failed attempt (1 for the
// first): 1 s, 2 s, 4 s... capped at 300 s, plus up to a tenth of that so
// that rows failing together spread out. `u` is uniform in [0, 1).
std::chrono::milliseconds webhook_backoff(int failures, double u);

}  // namespace vigil
