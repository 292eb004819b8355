#pragma once
// The alert and its handling as JSON (docs/handling.md): what history, one
// alert's GET, webhook bodies and `alert_updated` messages carry. Pure
// functions, shared by the HTTP routes, the WebSocket and the store engines
// (which write webhook bodies in the transaction that applies a change).
#include "alerts/alert.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::proto {

// The alert as history shows it. The detection is spliced in as stored.
std::string alert_json(stored_alert const& a);

// {"type":"alert_updated","alert_id","change","actor","state","owner",...}:
// `change` is acknowledged, resolved, reopened or escalated.
std::string alert_updated_message(stored_alert const& a, std::string_view change, std::string_view actor);

// A webhook body: {"id","type","at","actor","alert":{...,"recipients":[...]}};
// `type` is alert.acknowledged, alert.resolved, alert.reopened or alert.escalated.
std::string webhook_body(std::string_view id, std::string_view type, std::int64_t at_ms, std::string_view actor,
                         stored_alert const& a, std::vector<std::string> const& recipients);

// The webhook type of a change ("acknowledged" -> "alert.acknowledged").
std::string webhook_type(std::string_view change);

}  // namespace vigil::proto
