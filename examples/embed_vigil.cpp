// Embedding vigil in a detector process, the way the quick reference's backend
// uses its WebSocket manager:
//
//   ws_manager = get_websocket_manager()
//   await ws_manager.send_anomaly_alert(user_id=..., stream_id=..., detection_result=..., annotated_frame=...)
//   stats = ws_manager.get_connection_stats("user_123")
//
// Run:  VIGIL_JWT_SECRET="$(openssl rand -hex 32)" ./embed_vigil [port] [count]
// then connect:  wscat -c "ws://localhost:PORT/ws/alerts/user_123?token=$(vigil token --user user_123)"
#include "app/server.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    vigil::settings settings;
    settings.port = argc > 1 ? static_cast<std::uint16_t>(std::atoi(argv[1])) : 8000;
    int const count = argc > 2 ? std::atoi(argv[2]) : 10;
    settings.store.engine = "memory";
    if (char const* secret = std::getenv("VIGIL_JWT_SECRET")) settings.jwt.secret = secret;
    if (settings.jwt.secret.empty()) {
        std::cerr << "set VIGIL_JWT_SECRET\n";
        return 2;
    }
    settings.threads = 1;

    vigil::server server{settings};
    server.start(/*handle_signals=*/true);
    auto& ws_manager = server.embedding();

    for (int i = 0; i < count; ++i) {
        boost::json::value detection = {
            {"type", "intrusion"}, {"confidence", 0.93}, {"boxes", boost::json::array{{120, 80, 64, 128}}}};
        auto const result = ws_manager.send_anomaly_alert("user_123", "stream_456", detection).get();
        std::cout << "alert " << result.alert_id << " seq " << result.seq
                  << (result.delivered ? " delivered" : " stored for later") << "\n";
        if (auto stats = ws_manager.get_connection_stats("user_123"))
            std::cout << "User uptime: " << stats->uptime_seconds << "s\n";
        std::this_thread::sleep_for(std::chrono::seconds{1});
    }
    server.request_stop();
    server.wait();
}
