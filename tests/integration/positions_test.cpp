// Stream positions against the real binary (SPEC section 3): a client that
// resumes with a seq from a numbering that started again (a memory store
// restarted, a data directory lost) gets the new alerts, never silence; one
// that resumes in the current numbering gets exactly what came after its seq.
#include "support/clients.hpp"
#include "support/server_process.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include <unistd.h>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

json::value alert_for(std::string const& user, int n) {
    return {{"user_id", user}, {"stream_id", "cam-" + std::to_string(n)}, {"detection", {{"n", n}}}};
}

struct seen {
    std::int64_t seq;
    std::string epoch;
    bool replayed;
};

seen read_alert(ws_client& c) {
    auto const m = c.read_json();
    EXPECT_EQ(m.at("type"), "anomaly_detected") << json::serialize(m);
    return {m.at("seq").as_int64(), std::string{m.at("epoch").as_string()}, m.contains("replayed")};
}

// Connects as `user` resuming from `since` (and `epoch`, when given).
std::unique_ptr<ws_client> resume(std::uint16_t port, std::string const& user, std::uint64_t since,
                                  std::string const& epoch) {
    std::string target = "/ws/alerts/" + user + "?token=" + token_for(user) + "&since=" + std::to_string(since);
    if (!epoch.empty()) target += "&epoch=" + epoch;
    http_reply refusal;
    auto c = ws_client::connect(port, target, &refusal);
    if (!c) throw std::runtime_error("refused: " + std::to_string(refusal.status) + " " + refusal.body);
    return c;
}

// Publishes three alerts to `user`, reads them, and returns the epoch they came in.
std::string three_alerts_read(server_process& server, std::string const& user) {
    for (int i = 1; i <= 3; ++i) EXPECT_EQ(publish(server.port(), alert_for(user, i)).status, 201);
    auto c = ws_client::connect_user(server.port(), user);
    std::string epoch;
    for (int i = 1; i <= 3; ++i) {
        auto const a = read_alert(*c);
        EXPECT_EQ(a.seq, i);
        EXPECT_FALSE(a.epoch.empty());
        if (epoch.empty()) epoch = a.epoch;
        EXPECT_EQ(a.epoch, epoch) << "one numbering, one epoch";
    }
    return epoch;
}

// After the numbering started again: a client resuming from seq 3 gets the
// two new alerts, seq 1 and 2 of the new epoch, live.
void new_alerts_reach_a_stale_resume(server_process& server, std::string const& user, std::string const& old_epoch,
                                     bool send_epoch) {
    auto c = resume(server.port(), user, 3, send_epoch ? old_epoch : "");
    std::this_thread::sleep_for(200ms);  // the replay (of nothing) is done
    for (int i = 1; i <= 2; ++i) {
        auto const r = publish(server.port(), alert_for(user, 10 + i));
        ASSERT_EQ(r.status, 201);
        EXPECT_EQ(r.json().at("delivered"), true);
    }
    for (int i = 1; i <= 2; ++i) {
        auto const a = read_alert(*c);
        EXPECT_EQ(a.seq, i);
        EXPECT_NE(a.epoch, old_epoch);
    }
}

}  // namespace

TEST(Positions, AMemoryStoreRestartedStartsANewEpochAndNothingIsSkipped) {
    std::string old_epoch;
    {
        server_process first{{"--store", "memory"}};
        old_epoch = three_alerts_read(first, "u");
    }
    for (bool const send_epoch : {true, false}) {
        SCOPED_TRACE(send_epoch ? "with epoch" : "without epoch");
        server_process restarted{{"--store", "memory"}};
        new_alerts_reach_a_stale_resume(restarted, "u", old_epoch, send_epoch);
    }
}

TEST(Positions, ALostSqliteDataDirectoryStartsANewEpochAndNothingIsSkipped) {
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-positions-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::string old_epoch;
    {
        server_process first{{}, dir.string()};
        old_epoch = three_alerts_read(first, "u");
    }
    for (bool const send_epoch : {true, false}) {
        SCOPED_TRACE(send_epoch ? "with epoch" : "without epoch");
        std::filesystem::remove_all(dir);  // lost, or replaced by an empty one
        server_process restarted{{}, dir.string()};
        new_alerts_reach_a_stale_resume(restarted, "u", old_epoch, send_epoch);
    }
    std::filesystem::remove_all(dir);
}

TEST(Positions, AResumeInTheSameEpochGetsExactlyWhatCameAfterSince) {
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-positions-keep-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::string epoch;
    {
        server_process first{{}, dir.string()};
        epoch = three_alerts_read(first, "u");
        EXPECT_EQ(publish(first.port(), alert_for("u", 4)).status, 201);
    }
    server_process restarted{{}, dir.string()};  // the same database: the same epoch
    auto c = resume(restarted.port(), "u", 2, epoch);
    auto const third = read_alert(*c);
    EXPECT_EQ(third.seq, 3);
    EXPECT_EQ(third.epoch, epoch);
    EXPECT_TRUE(third.replayed);
    EXPECT_EQ(read_alert(*c).seq, 4);
    ASSERT_EQ(publish(restarted.port(), alert_for("u", 5)).status, 201);
    auto const live = read_alert(*c);
    EXPECT_EQ(live.seq, 5);
    EXPECT_FALSE(live.replayed);
    c->send_text(R"({"type":"ping"})");
    EXPECT_EQ(c->read_json().at("type"), "pong");  // and nothing else came in between
    std::filesystem::remove_all(dir);
}

TEST(Positions, AMalformedEpochIsRefusedBeforeTheUpgrade) {
    server_process server;
    http_reply refusal;
    auto const c =
        ws_client::connect(server.port(), "/ws/alerts/u?token=" + token_for("u") + "&since=1&epoch=%22x%22", &refusal);
    EXPECT_FALSE(c);
    EXPECT_EQ(refusal.status, 400);
    EXPECT_EQ(refusal.json().at("error"), "bad_request");
}

// A database restored from a backup hands out seqs again: `vigil new-epoch`
// gives it a new numbering, so clients resuming from before start over.
TEST(Positions, NewEpochAfterARestoreMakesClientsStartOver) {
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-positions-restore-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::string old_epoch;
    {
        server_process first{{}, dir.string()};
        old_epoch = three_alerts_read(first, "u");
    }
    std::string const command = std::string{VIGIL_BINARY_FOR_TESTS} + " new-epoch --data-dir " + dir.string() + " 2>&1";
    FILE* out = popen(command.c_str(), "r");
    ASSERT_TRUE(out);
    char line[512] = {};
    ASSERT_TRUE(fgets(line, sizeof line, out));
    EXPECT_EQ(pclose(out), 0) << line;
    EXPECT_NE(std::string{line}.find("new epoch"), std::string::npos) << line;

    server_process restarted{{}, dir.string()};
    auto c = resume(restarted.port(), "u", 3, old_epoch);
    for (int i = 1; i <= 3; ++i) {  // every unacknowledged alert, in the new epoch
        auto const a = read_alert(*c);
        EXPECT_EQ(a.seq, i);
        EXPECT_NE(a.epoch, old_epoch);
    }
    std::filesystem::remove_all(dir);

    FILE* missing =
        popen((std::string{VIGIL_BINARY_FOR_TESTS} + " new-epoch --data-dir " + dir.string() + " 2>&1").c_str(), "r");
    ASSERT_TRUE(missing);
    while (fgets(line, sizeof line, missing)) {}
    EXPECT_NE(pclose(missing), 0) << "no database there: nothing to renumber";
    EXPECT_FALSE(std::filesystem::exists(dir / "vigil.db")) << "new-epoch must not create a database";
}
