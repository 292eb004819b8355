#pragma once
// `vigil serve --demo`: publishes synthetic anomaly alerts for the user "demo"
// through the embedding API, so a fresh install shows alerts the first minute.
#include "app/embedding.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace vigil {

class demo_publisher {
public:
    // Starts publishing one alert every `period_ms` to `user`.
    demo_publisher(embedding& api, std::string user, int period_ms = 4000);
    ~demo_publisher();  // stops and joins

private:
    void run();

    embedding& api_;
    std::string user_;
    int period_ms_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace vigil
