#pragma once
// What handling keeps beside the alerts (SPEC section 7, docs/handling.md):
// teams, escalation policies, the audit trail, escalation timers and the
// webhook outbox. Implemented by every alert store engine beside alert_store,
// on the same data and in the same transactions as the alerts' state, so
// that every node of a cluster sees the same and a change is never half made.
//
// Contract, shared by every engine (tests/contract/handling_store_contract_test.cpp):
// - Teams and policies are replaced whole by put_*; names are validated
//   before (1-64 of [A-Za-z0-9_.-]).
// - events() lists the alert's trail oldest first: `published` (actor: who
//   published; at: created), one `delivered` per copy that reached a live
//   connection (actor: the recipient; node), then what transitions and
//   escalations recorded, in the order they were applied.
// - An escalation timer exists while an alert with a policy is open (armed
//   by write() from new_alert::escalation_due_ms, and by a reopen; removed by
//   an acknowledgement or resolution). claim_due_escalations() hands a due
//   timer to one caller at a time: it moves the timer's due time to now +
//   lease, so that another process claims it again only if this one died
//   before escalate(). escalate() applies only if the timer is still at the
//   step and round claimed: a step fires once, whoever claims it.
// - Every applied transition and escalation writes one outbox row per
//   webhook URL (set_webhook_urls), in the same transaction: a row lives
//   until webhook_delivered(), and claim_webhooks() hands a due row to one
//   caller at a time (lease as above).
// - Calls may block (disk, network): callers keep them off the I/O threads,
//   except on the memory engine. Failures throw store_error.
#include "alerts/alert.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct team_record {
    std::string name;
    std::vector<std::string> members;  // user ids, unique, in the order given
    // Default escalation policy by severity ("critical", "high", "medium",
    // "low") or "default" for the others: a team alert without its own
    // `escalation` takes its severity's, else the default.
    std::map<std::string, std::string> escalation;
    std::int64_t updated_ms = 0;
};

struct escalation_step {
    std::string notify;  // "team:NAME" or "user:ID"
    std::int64_t ack_within_seconds = 0;
};

struct escalation_policy {
    std::string name;
    std::vector<escalation_step> steps;  // at least one
    int repeat = 0;                      // how many more times the steps run after the last one's deadline
    std::int64_t updated_ms = 0;
};

// One entry of an alert's audit trail.
struct audit_event {
    std::string type;   // published, delivered, escalated, acknowledged, resolved, reopened
    std::string actor;  // a user id, a publisher's name, or "escalation"
    std::int64_t at_ms = 0;
    std::string detail_json;  // a JSON object of the type's fields beside type, actor and at; "{}" when none
};

// An open alert's escalation clock: the deadline of step `step` (0-based) in
// round `round` (0-based) of policy `policy`.
struct escalation_timer {
    std::string alert_id;
    std::string policy;
    int step = 0;
    int round = 0;
    std::int64_t due_ms = 0;
};

// One step's firing, as the escalation worker computed it from the policy.
struct escalation_fire {
    escalation_timer from;                // as claimed: applied only while the timer is still at this step and round
    int level = 0;                        // the level after (1-based: the step's index + 1); 0: no step, the clock ends
    std::string notify;                   // the step's audience as the policy writes it, for the audit event
    std::vector<std::string> recipients;  // its users: those without a copy get one, with their next seq
    std::optional<escalation_timer> next;  // the timer after; none: the policy is done, the timer goes
    std::int64_t now_ms = 0;
};

struct escalation_result {
    bool applied = false;
    std::vector<stored_alert> added;      // the new copies (with their users' seqs), without frame bytes
    std::vector<std::string> recipients;  // every user holding a copy after
    std::optional<stored_alert> alert;    // the alert after (its first copy), without frame bytes
};

// One webhook POST waiting in the outbox.
struct webhook_delivery {
    std::string id;  // the row's
    std::string url;
    std::string body;  // signed as is
    int attempts = 0;  // failed attempts so far
    std::int64_t created_ms = 0;
};

class handling_store {
public:
    virtual ~handling_store() = default;

    virtual void put_team(team_record const& team) = 0;  // creates or replaces
    virtual std::optional<team_record> get_team(std::string_view name) = 0;
    virtual bool delete_team(std::string_view name) = 0;  // false: none
    virtual std::vector<team_record> teams() = 0;         // by name

    virtual void put_policy(escalation_policy const& policy) = 0;
    virtual std::optional<escalation_policy> get_policy(std::string_view name) = 0;
    virtual bool delete_policy(std::string_view name) = 0;
    virtual std::vector<escalation_policy> policies() = 0;  // by name

    // The alert's audit trail, oldest first; empty when there is no such alert.
    virtual std::vector<audit_event> events(std::string_view alert_id) = 0;
    // The users holding a copy of the alert, in the order the copies were made.
    virtual std::vector<std::string> recipients(std::string_view alert_id) = 0;

    // Due timers (due_ms <= now_ms), at most `limit`, each moved to now_ms + lease_ms.
    virtual std::vector<escalation_timer> claim_due_escalations(std::int64_t now_ms, std::int64_t lease_ms,
                                                                std::size_t limit) = 0;
    virtual escalation_result escalate(escalation_fire const& fire) = 0;
    // When the soonest timer falls (none: no timer), so a worker can sleep until then.
    virtual std::optional<std::int64_t> next_escalation_due() = 0;

    // Where the outbox rows of later changes go (once, at start, before any write).
    virtual void set_webhook_urls(std::vector<std::string> urls) = 0;
    // Due rows, at most `limit`, each leased until now_ms + lease_ms; oldest first.
    virtual std::vector<webhook_delivery> claim_webhooks(std::int64_t now_ms, std::int64_t lease_ms,
                                                         std::size_t limit) = 0;
    virtual void webhook_delivered(std::string_view id) = 0;
    // One more failed attempt; the row is due again at retry_at_ms.
    virtual void webhook_failed(std::string_view id, std::int64_t retry_at_ms) = 0;
    // Rows older than before_ms go (a receiver gone for good); returns how many.
    virtual std::size_t drop_webhooks_before(std::int64_t before_ms) = 0;

    // Open alerts (each once, however many copies) by severity.
    virtual std::map<std::string, std::int64_t> open_by_severity() = 0;
};

}  // namespace vigil
