// SPEC section 7 against the real binary (docs/handling.md): team alerts,
// one shared state seen by every member at once, resolve and reopen,
// escalation when nobody acknowledges (also across kill -9), and the audit
// trail of each case. Deadlines are seconds long.
#include "support/clients.hpp"
#include "support/server_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include <unistd.h>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

headers bearer(std::string const& token) { return {{"Authorization", "Bearer " + token}}; }
headers admin() { return bearer(token_for("root", "admin")); }

http_reply put(server_process const& s, std::string const& path, json::value const& body) {
    return http_request(s.port(), "PUT", path, json::serialize(body), admin());
}

void make_team(server_process const& s, std::string const& name, std::vector<std::string> const& members,
               json::object escalation = {}) {
    json::array m;
    for (auto const& u : members) m.emplace_back(u);
    json::object body{{"members", std::move(m)}};
    if (!escalation.empty()) body["escalation"] = std::move(escalation);
    auto const r = put(s, "/api/v1/teams/" + name, body);
    ASSERT_EQ(r.status, 200) << r.body;
}

void make_policy(server_process const& s, std::string const& name, json::array steps, int repeat = 0) {
    auto const r =
        put(s, "/api/v1/escalation-policies/" + name, json::object{{"steps", std::move(steps)}, {"repeat", repeat}});
    ASSERT_EQ(r.status, 200) << r.body;
}

json::object step(std::string notify, int seconds) {
    return {{"notify", std::move(notify)}, {"ack_within_seconds", seconds}};
}

json::object team_alert(std::string const& team, std::string const& severity = "high") {
    return {{"team", team}, {"stream_id", "cam-3"}, {"severity", severity}, {"detection", {{"type", "intrusion"}}}};
}

// The next message of `type`, skipping others (a replay, an earlier update).
json::object next_of(ws_client& c, std::string_view type, std::chrono::milliseconds timeout = 5000ms) {
    auto const until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto const left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left <= 0ms) throw std::runtime_error("no " + std::string{type} + " in time");
        auto m = c.read_json(left);
        if (m.at("type").as_string() == type) return m;
    }
}

// Whether a message of `type` arrives within `window`.
bool arrives(ws_client& c, std::string_view type, std::chrono::milliseconds window) {
    try {
        next_of(c, type, window);
        return true;
    } catch (std::exception const&) {
        return false;
    }
}

std::vector<std::string> event_types(server_process const& s, std::string const& id) {
    auto const r = http_request(s.port(), "GET", "/api/v1/alerts/" + id + "/events", {}, admin());
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    if (r.status != 200) return out;
    auto const body = r.json();
    for (auto const& e : body.at("events").as_array()) out.emplace_back(e.at("type").as_string());
    return out;
}

long count(std::vector<std::string> const& v, std::string const& x) { return std::count(v.begin(), v.end(), x); }

}  // namespace

TEST(Handling, ATeamAlertReachesEveryMemberAndOneAcknowledgementReachesTheOthersAtOnce) {
    server_process server;
    make_team(server, "night", {"alice", "bob"});
    auto alice = ws_client::connect_user(server.port(), "alice");
    auto bob = ws_client::connect_user(server.port(), "bob");
    std::this_thread::sleep_for(200ms);  // both attached

    auto const published = publish(server.port(), team_alert("night"));
    ASSERT_EQ(published.status, 201) << published.body;
    auto const answer = published.json().as_object();
    EXPECT_EQ(answer.at("team"), "night");
    EXPECT_EQ(answer.at("recipients"), 2);
    EXPECT_EQ(answer.at("delivered"), true);
    std::string const id{answer.at("alert_id").as_string()};

    auto const a = next_of(*alice, "anomaly_detected");
    auto const b = next_of(*bob, "anomaly_detected");
    EXPECT_EQ(a.at("alert_id").as_string(), id);
    EXPECT_EQ(b.at("alert_id").as_string(), id);
    EXPECT_EQ(a.at("seq"), 1);
    EXPECT_EQ(b.at("seq"), 1);  // each member's own numbering
    EXPECT_EQ(a.at("team"), "night");
    EXPECT_EQ(a.at("state"), "open");
    EXPECT_EQ(a.at("severity"), "high");

    auto const sent = std::chrono::steady_clock::now();
    alice->send_json({{"type", "ack"}, {"alert_id", id}});
    EXPECT_EQ(next_of(*alice, "ack_ok").at("alert_id").as_string(), id);
    auto const update = next_of(*bob, "alert_updated", 1000ms);  // within a second
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 1000ms);
    EXPECT_EQ(update.at("alert_id").as_string(), id);
    EXPECT_EQ(update.at("change"), "acknowledged");
    EXPECT_EQ(update.at("state"), "acknowledged");
    EXPECT_EQ(update.at("owner"), "alice");
    EXPECT_EQ(update.at("actor"), "alice");

    // Bob's history says so too, and his acknowledgement changes nothing.
    auto const history =
        http_request(server.port(), "GET", "/api/v1/alerts?status=acknowledged", {}, bearer(token_for("bob")));
    ASSERT_EQ(history.status, 200);
    auto const history_body = history.json();
    auto const& rows = history_body.at("alerts").as_array();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].at("owner"), "alice");
    EXPECT_EQ(rows[0].at("user_id"), "bob");
    EXPECT_EQ(http_request(server.port(), "GET", "/api/v1/alerts?status=unacked", {}, bearer(token_for("bob")))
                  .json()
                  .at("alerts")
                  .as_array()
                  .size(),
              0u);
    bob->send_json({{"type", "ack"}, {"alert_id", id}});
    EXPECT_EQ(next_of(*bob, "ack_ok").at("alert_id").as_string(), id);

    // A reconnect replays the current state: nothing unacknowledged for bob,
    // and from the start the alert with its owner.
    bob.reset();
    auto again = ws_client::connect_user(server.port(), "bob", 0);
    auto const replayed = next_of(*again, "anomaly_detected");
    EXPECT_EQ(replayed.at("state"), "acknowledged");
    EXPECT_EQ(replayed.at("owner"), "alice");

    auto const types = event_types(server, id);
    EXPECT_EQ(types.front(), "published");
    EXPECT_EQ(count(types, "delivered"), 2);
    EXPECT_EQ(count(types, "acknowledged"), 1);
}

TEST(Handling, ResolveAndReopenReachEveryoneAndWrongMovesAreRefused) {
    server_process server;
    make_team(server, "day", {"carol", "dave"});
    auto carol = ws_client::connect_user(server.port(), "carol");
    auto dave = ws_client::connect_user(server.port(), "dave");
    std::this_thread::sleep_for(200ms);
    std::string const id{publish(server.port(), team_alert("day")).json().at("alert_id").as_string()};
    next_of(*carol, "anomaly_detected");
    next_of(*dave, "anomaly_detected");

    // Resolved while open: the resolver owns it.
    carol->send_json({{"type", "resolve"}, {"alert_id", id}, {"outcome", "false_alarm"}, {"note", "a cat"}});
    EXPECT_EQ(next_of(*carol, "resolve_ok").at("alert_id").as_string(), id);
    auto const resolved = next_of(*dave, "alert_updated", 1000ms);
    EXPECT_EQ(resolved.at("state"), "resolved");
    EXPECT_EQ(resolved.at("outcome"), "false_alarm");
    EXPECT_EQ(resolved.at("note"), "a cat");
    EXPECT_EQ(resolved.at("resolved_by"), "carol");
    EXPECT_EQ(resolved.at("owner"), "carol");

    carol->send_json({{"type", "resolve"}, {"alert_id", id}, {"outcome", "real"}});
    auto const refused = next_of(*carol, "error");
    EXPECT_EQ(refused.at("error"), "invalid_transition");
    EXPECT_EQ(refused.at("alert_id").as_string(), id);
    carol->send_json({{"type", "resolve"}, {"alert_id", id}, {"outcome", "maybe"}});
    EXPECT_EQ(next_of(*carol, "error").at("error"), "invalid_resolve");

    auto const reopen = [&](std::string const& who) {
        return http_request(server.port(), "POST", "/api/v1/alerts/" + id + "/reopen", {}, bearer(token_for(who)));
    };
    EXPECT_EQ(reopen("mallory").status, 404);  // not a recipient: as if there were no such alert
    auto const reopened = reopen("dave");
    ASSERT_EQ(reopened.status, 200) << reopened.body;
    EXPECT_EQ(reopened.json().at("state"), "open");
    EXPECT_EQ(reopened.json().at("owner"), nullptr);
    EXPECT_EQ(next_of(*carol, "alert_updated", 1000ms).at("change"), "reopened");
    EXPECT_EQ(reopen("dave").status, 409);

    auto const bad = http_request(server.port(), "POST", "/api/v1/alerts/" + id + "/resolve", R"({"outcome":"x"})",
                                  bearer(token_for("dave")));
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.json().at("error"), "invalid_outcome");
    auto const by_admin =
        http_request(server.port(), "POST", "/api/v1/alerts/" + id + "/resolve", R"({"outcome":"test"})", admin());
    ASSERT_EQ(by_admin.status, 200) << by_admin.body;
    EXPECT_EQ(by_admin.json().at("state"), "resolved");

    auto const history = http_request(server.port(), "GET", "/api/v1/alerts?status=resolved&team=day", {}, admin());
    ASSERT_EQ(history.status, 200);
    EXPECT_EQ(history.json().at("alerts").as_array().size(), 2u);  // one copy per member

    auto const events =
        http_request(server.port(), "GET", "/api/v1/alerts/" + id + "/events", {}, bearer(token_for("carol")));
    ASSERT_EQ(events.status, 200);
    std::vector<std::string> types;
    auto const trail = events.json();
    for (auto const& e : trail.at("events").as_array()) {
        types.emplace_back(e.at("type").as_string());
        EXPECT_TRUE(e.as_object().contains("actor"));
        EXPECT_TRUE(e.as_object().contains("at"));
    }
    EXPECT_EQ(types,
              (std::vector<std::string>{"published", "delivered", "delivered", "resolved", "reopened", "resolved"}));
    auto const& first_resolution = trail.at("events").as_array()[3];
    EXPECT_EQ(first_resolution.at("actor"), "carol");
    EXPECT_EQ(first_resolution.at("outcome"), "false_alarm");
    EXPECT_EQ(
        http_request(server.port(), "GET", "/api/v1/alerts/" + id + "/events", {}, bearer(token_for("mallory"))).status,
        404);
}

TEST(Handling, AnUnacknowledgedAlertEscalatesToTheNextStepWithinASecondOfItsDeadline) {
    server_process server;
    make_team(server, "night", {"alice"});
    make_policy(server, "night-policy", {step("team:night", 2), step("user:sup", 30)});
    auto alice = ws_client::connect_user(server.port(), "alice");
    auto sup = ws_client::connect_user(server.port(), "sup");
    std::this_thread::sleep_for(200ms);

    auto body = team_alert("night");
    body["escalation"] = "night-policy";
    auto const published_at = std::chrono::steady_clock::now();
    std::string const id{publish(server.port(), body).json().at("alert_id").as_string()};
    auto const first = next_of(*alice, "anomaly_detected");
    EXPECT_EQ(first.at("escalation_level"), 1);

    auto const escalated = next_of(*sup, "anomaly_detected", 5000ms);
    auto const waited = std::chrono::steady_clock::now() - published_at;
    EXPECT_GE(waited, 1900ms);
    EXPECT_LT(waited, 3200ms);  // due at 2 s, fired within 1 s
    EXPECT_EQ(escalated.at("alert_id").as_string(), id);
    EXPECT_EQ(escalated.at("escalation_level"), 2);
    EXPECT_EQ(escalated.at("seq"), 1);
    auto const told = next_of(*alice, "alert_updated", 1000ms);
    EXPECT_EQ(told.at("change"), "escalated");
    EXPECT_EQ(told.at("escalation_level"), 2);

    // The supervisor's acknowledgement stops it, and everyone sees it.
    sup->send_json({{"type", "ack"}, {"alert_id", id}});
    next_of(*sup, "ack_ok");
    EXPECT_EQ(next_of(*alice, "alert_updated", 1000ms).at("owner"), "sup");

    auto const types = event_types(server, id);
    EXPECT_EQ(count(types, "escalated"), 1);
    auto const trail = http_request(server.port(), "GET", "/api/v1/alerts/" + id + "/events", {}, admin());
    auto const trail_body = trail.json();
    for (auto const& e : trail_body.at("events").as_array())
        if (e.at("type") == "escalated") {
            EXPECT_EQ(e.at("level"), 2);
            EXPECT_EQ(e.at("notify"), "user:sup");
            EXPECT_EQ(e.at("actor"), "escalation");
        }
}

TEST(Handling, AnAcknowledgementBeforeTheDeadlineMeansNoEscalation) {
    server_process server;
    make_policy(server, "quick", {step("user:alice", 1), step("user:sup", 30)});
    auto alice = ws_client::connect_user(server.port(), "alice");
    auto sup = ws_client::connect_user(server.port(), "sup");
    std::this_thread::sleep_for(200ms);
    auto const r = publish(server.port(), json::object{{"user_id", "alice"},
                                                       {"stream_id", "cam-1"},
                                                       {"escalation", "quick"},
                                                       {"detection", {{"type", "person"}}}});
    ASSERT_EQ(r.status, 201) << r.body;
    std::string const id{r.json().at("alert_id").as_string()};
    next_of(*alice, "anomaly_detected");
    alice->send_json({{"type", "ack"}, {"alert_id", id}});
    next_of(*alice, "ack_ok");
    EXPECT_FALSE(arrives(*sup, "anomaly_detected", 2500ms));
    EXPECT_EQ(count(event_types(server, id), "escalated"), 0);

    // A publish naming a policy that does not exist is refused.
    auto const unknown = publish(
        server.port(),
        json::object{
            {"user_id", "alice"}, {"stream_id", "cam-1"}, {"escalation", "nope"}, {"detection", json::object{}}});
    EXPECT_EQ(unknown.status, 400);
    EXPECT_EQ(unknown.json().at("error"), "unknown_policy");
    auto const no_team = publish(server.port(), team_alert("ghosts"));
    EXPECT_EQ(no_team.status, 400);
    EXPECT_EQ(no_team.json().at("error"), "unknown_team");
}

TEST(Handling, AOneStepPolicyEndsAtItsDeadlineWithoutAnEscalation) {
    // Nothing after the only step: the deadline passing changes nothing and
    // announces nothing (no alert_updated, no audit event, no webhook).
    server_process server;
    make_policy(server, "single", {step("user:alice", 1)});
    auto alice = ws_client::connect_user(server.port(), "alice");
    std::this_thread::sleep_for(200ms);
    auto const r = publish(server.port(), json::object{{"user_id", "alice"},
                                                       {"stream_id", "cam-1"},
                                                       {"escalation", "single"},
                                                       {"detection", {{"type", "person"}}}});
    ASSERT_EQ(r.status, 201) << r.body;
    std::string const id{r.json().at("alert_id").as_string()};
    EXPECT_EQ(next_of(*alice, "anomaly_detected").at("escalation_level"), 1);
    EXPECT_FALSE(arrives(*alice, "alert_updated", 2500ms));
    EXPECT_EQ(count(event_types(server, id), "escalated"), 0);
    auto const m = http_request(server.port(), "GET", "/metrics", {}, admin());
    EXPECT_NE(m.body.find("vigil_escalations_total 0"), std::string::npos);
}

TEST(Handling, ADeadlineSurvivesKillNineAndFiresOnceWhenTheServerIsBack) {
    auto const dir = (std::filesystem::temp_directory_path() / ("vigil-handling-" + std::to_string(getpid()))).string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    {
        server_process server({}, dir);
        make_team(server, "night", {"alice"}, json::object{{"critical", "page-sup"}});
        make_policy(server, "page-sup", {step("team:night", 2), step("user:sup", 30)});
        auto const r = publish(server.port(), team_alert("night", "critical"));  // the team's default policy
        ASSERT_EQ(r.status, 201) << r.body;
        server.kill_hard();                   // before the deadline
        std::this_thread::sleep_for(2500ms);  // it passes while nothing runs
    }
    server_process again({}, dir);
    auto sup = ws_client::connect_user(again.port(), "sup");
    auto const m = next_of(*sup, "anomaly_detected", 3000ms);
    EXPECT_EQ(m.at("escalation_level"), 2);
    std::string const id{m.at("alert_id").as_string()};
    std::this_thread::sleep_for(1000ms);
    EXPECT_EQ(count(event_types(again, id), "escalated"), 1);
    again.stop();
    std::filesystem::remove_all(dir);
}

TEST(Handling, TeamsAndPoliciesAreAnAdminsAndValidated) {
    server_process server;
    EXPECT_EQ(
        http_request(server.port(), "PUT", "/api/v1/teams/t", R"({"members":["a"]})", bearer(token_for("a"))).status,
        403);
    EXPECT_EQ(put(server, "/api/v1/teams/t", json::object{{"members", json::array{}}}).status, 400);
    EXPECT_EQ(put(server, "/api/v1/teams/t", json::object{{"members", {"bad id!"}}}).status, 400);
    EXPECT_EQ(put(server, "/api/v1/teams/bad%20name", json::object{{"members", {"a"}}}).status, 400);
    auto const made = put(server, "/api/v1/teams/t", json::object{{"members", {"a", "b", "a"}}});
    ASSERT_EQ(made.status, 200) << made.body;
    EXPECT_EQ(made.json().at("members").as_array().size(), 2u);  // duplicates dropped
    EXPECT_EQ(http_request(server.port(), "GET", "/api/v1/teams", {}, admin()).json().at("teams").as_array().size(),
              1u);

    EXPECT_EQ(put(server, "/api/v1/escalation-policies/p", json::object{{"steps", {step("nobody", 5)}}}).status, 400);
    EXPECT_EQ(put(server, "/api/v1/escalation-policies/p", json::object{{"steps", {step("user:a", 0)}}}).status, 400);
    EXPECT_EQ(put(server, "/api/v1/escalation-policies/p", json::object{{"steps", {step("user:a", 5)}}, {"repeat", 99}})
                  .status,
              400);
    ASSERT_EQ(put(server, "/api/v1/escalation-policies/p", json::object{{"steps", {step("team:t", 5)}}}).status, 200);
    auto const got = http_request(server.port(), "GET", "/api/v1/escalation-policies/p", {}, admin());
    ASSERT_EQ(got.status, 200);
    EXPECT_EQ(got.json().at("steps").as_array()[0].at("notify"), "team:t");
    EXPECT_EQ(http_request(server.port(), "DELETE", "/api/v1/escalation-policies/p", {}, admin()).status, 204);
    EXPECT_EQ(http_request(server.port(), "DELETE", "/api/v1/escalation-policies/p", {}, admin()).status, 404);
    EXPECT_EQ(http_request(server.port(), "DELETE", "/api/v1/teams/t", {}, admin()).status, 204);
    EXPECT_EQ(http_request(server.port(), "GET", "/api/v1/teams/t", {}, admin()).status, 404);

    // A publish names one audience.
    auto const both =
        publish(server.port(),
                json::object{{"user_id", "a"}, {"team", "t"}, {"stream_id", "s"}, {"detection", json::object{}}});
    EXPECT_EQ(both.status, 400);
    EXPECT_EQ(both.json().at("error"), "invalid_audience");
}
