#include "app/embedding.hpp"

#include "alerts/alert_validation.hpp"
#include "common/clock.hpp"
#include "common/json_text.hpp"

#include <stdexcept>

namespace vigil {

new_alert embedding::make_alert(std::string user_id, std::string stream_id, boost::json::value const& detection,
                                std::optional<annotated_frame> frame, std::string idempotency_key) const {
    new_alert a{std::move(user_id), std::move(stream_id), json_text::serialize(detection),
                std::move(frame),   iso8601(now_ms()),    std::move(idempotency_key)};
    if (auto checked = check_new_alert(a, limits_); !checked) throw alert_rejected(checked.error());
    return a;
}

std::future<publish_result> embedding::send_anomaly_alert(std::string user_id, std::string stream_id,
                                                          boost::json::value const& detection,
                                                          std::optional<annotated_frame> annotated_frame,
                                                          std::string idempotency_key) {
    auto promise = std::make_shared<std::promise<publish_result>>();
    auto future = promise->get_future();
    std::vector<new_alert> alerts;
    alerts.push_back(make_alert(std::move(user_id), std::move(stream_id), detection, std::move(annotated_frame),
                                std::move(idempotency_key)));
    alerts_.publish(std::move(alerts), [promise](publish_outcome outcome) {
        if (!outcome)
            promise->set_exception(std::make_exception_ptr(store_error(outcome.error().detail)));
        else
            promise->set_value(outcome->front());
    });
    return future;
}

void embedding::send_anomaly_alert_async(std::string user_id, std::string stream_id,
                                         boost::json::value const& detection,
                                         std::optional<annotated_frame> annotated_frame,
                                         std::function<void(publish_outcome)> done) {
    std::vector<new_alert> alerts;
    alerts.push_back(make_alert(std::move(user_id), std::move(stream_id), detection, std::move(annotated_frame), {}));
    alerts_.publish(std::move(alerts), std::move(done));
}

std::optional<connection_report> embedding::get_connection_stats(std::string const& user_id) const {
    auto const s = registry_.stats(user_id);
    if (!s) return std::nullopt;
    return make_report(*s, now_ms());
}

std::vector<connection_report> embedding::get_all_connection_stats() const {
    std::vector<connection_report> out;
    auto const now = now_ms();
    for (auto const& s : registry_.all_stats()) out.push_back(make_report(s, now));
    return out;
}

}  // namespace vigil
