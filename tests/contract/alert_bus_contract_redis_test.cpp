// The alert_bus contract for the Redis engine: each test's cluster is a
// redis-server of its own, and up to three nodes on it.
#include "contract/alert_bus_contract.hpp"

#include "bus/redis_alert_bus.hpp"
#include "support/redis_process.hpp"

using namespace vigil;
using namespace vigil::test;

namespace {

struct redis_cluster final : bus_cluster {
    redis_process server;

    std::unique_ptr<alert_bus> node(std::string id) override {
        redis_bus_options o;
        o.url = server.url();
        o.node_id = std::move(id);
        return std::make_unique<redis_alert_bus>(std::move(o));
    }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Redis, AlertBusContract,
                         ::testing::Values(bus_factory{"redis", [] { return std::make_unique<redis_cluster>(); }, 3}),
                         [](auto const& info) { return info.param.name; });
