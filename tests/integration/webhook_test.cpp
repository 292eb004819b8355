// Webhooks end to end (docs/handling.md): the real binary POSTs every
// handling change, signed, to a receiver the test runs (the loopback HTTP
// receiver of support/mock_push_service, which records what arrives and
// answers as scripted). The receiver fails at first and recovers; the
// server is restarted in between; every change arrives, with a valid
// signature, under one id per change.
#include "support/clients.hpp"
#include "support/mock_push_service.hpp"
#include "support/server_process.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <unistd.h>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr char secret[] = "webhook-test-secret-0123456789";

std::string hmac_hex(std::string_view body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha256(), secret, int(sizeof secret - 1), reinterpret_cast<unsigned char const*>(body.data()), body.size(),
         mac, &len);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(digits[mac[i] >> 4]);
        out.push_back(digits[mac[i] & 15]);
    }
    return out;
}

headers bearer(std::string const& token) { return {{"Authorization", "Bearer " + token}}; }

std::vector<std::string> server_args(mock_push_service const& receiver) {
    return {"--webhook-url", receiver.endpoint("/hooks/vigil"), "--webhook-secret", secret};
}

// The distinct changes received with a 2xx answer so far are not known to
// the receiver; what it saw is every attempt: id -> attempts, type.
struct seen_changes {
    std::map<std::string, int> attempts;
    std::map<std::string, std::string> types;
    int bad_signatures = 0;
};

seen_changes look(mock_push_service const& receiver) {
    seen_changes out;
    for (auto const& r : receiver.received()) {
        if (r.header("x-vigil-signature") != "sha256=" + hmac_hex(r.body)) ++out.bad_signatures;
        auto const body = json::parse(r.body).as_object();
        std::string const id{body.at("id").as_string()};
        ++out.attempts[id];
        out.types[id] = std::string{body.at("type").as_string()};
        EXPECT_EQ(r.header("x-vigil-delivery"), id);
        EXPECT_EQ(r.header("x-vigil-event"), out.types[id]);
        EXPECT_EQ(r.method, "POST");
        EXPECT_EQ(r.target, "/hooks/vigil");
    }
    return out;
}

}  // namespace

TEST(Webhooks, EveryChangeArrivesSignedOnceTheReceiverRecoversEvenAcrossARestart) {
    mock_push_service receiver{{}};
    // The first attempts fail: 500, 500, then (the script used up) 201.
    receiver.script({mock_answer{500, {}, {}}, mock_answer{500, {}, {}}});
    auto const dir = (std::filesystem::temp_directory_path() / ("vigil-webhooks-" + std::to_string(getpid()))).string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::string id;
    {
        server_process server(server_args(receiver), dir);
        auto const r = publish(server.port(), json::object{{"user_id", "alice"},
                                                           {"stream_id", "cam-9"},
                                                           {"severity", "critical"},
                                                           {"detection", {{"type", "fire"}}}});
        ASSERT_EQ(r.status, 201) << r.body;
        id = std::string{r.json().at("alert_id").as_string()};
        auto const path = "/api/v1/alerts/" + id;
        ASSERT_EQ(http_request(server.port(), "POST", path + "/ack", {}, bearer(token_for("alice"))).status, 200);
        ASSERT_EQ(http_request(server.port(), "POST", path + "/resolve", R"({"outcome":"real","note":"smoke"})",
                               bearer(token_for("alice")))
                      .status,
                  200);
        // Two changes, two failed attempts, then both delivered (backoff 1 s, 2 s).
        ASSERT_TRUE(receiver.wait_for(4, 10s));
        auto const seen = look(receiver);
        EXPECT_EQ(seen.bad_signatures, 0);
        ASSERT_EQ(seen.attempts.size(), 2u);
        int retried = 0;
        for (auto const& [event, n] : seen.attempts) retried += n > 1;
        EXPECT_GE(retried, 1);  // a 500 was tried again, under the same id

        // The receiver goes down for good; a change is made; the server stops.
        receiver.script(std::vector<mock_answer>(50, mock_answer{503, {}, {}}));
        ASSERT_EQ(http_request(server.port(), "POST", path + "/reopen", {}, bearer(token_for("alice"))).status, 200);
        auto const before = receiver.received().size();
        ASSERT_TRUE(receiver.wait_for(before + 1, 5s));  // tried, refused
        EXPECT_EQ(server.stop(), 0);
    }
    receiver.script({});  // back: 201 from now on
    auto const failed_so_far = receiver.received().size();
    server_process again(server_args(receiver), dir);
    ASSERT_TRUE(receiver.wait_for(failed_so_far + 1, 15s)) << "the reopening was lost across the restart";
    auto const seen = look(receiver);
    EXPECT_EQ(seen.bad_signatures, 0);
    std::multiset<std::string> types;
    for (auto const& [event, type] : seen.types) types.insert(type);
    EXPECT_EQ(types, (std::multiset<std::string>{"alert.acknowledged", "alert.reopened", "alert.resolved"}));
    auto const last = json::parse(receiver.received().back().body).as_object();
    EXPECT_EQ(last.at("type"), "alert.reopened");
    EXPECT_EQ(last.at("alert").at("alert_id").as_string(), id);
    EXPECT_EQ(last.at("alert").at("state"), "open");
    EXPECT_EQ(last.at("actor"), "alice");
    std::this_thread::sleep_for(1500ms);  // and nothing more: delivered rows are not sent again
    EXPECT_EQ(receiver.received().size(), failed_so_far + 1);
    again.stop();
    std::filesystem::remove_all(dir);
}
