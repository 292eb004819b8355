// Every message a node receives over Redis, and every presence entry and
// pointer it reads there, goes through these parsers: anyone who can publish
// on the server can send them anything.
#include "bus/redis_wire.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    namespace wire = vigil::redis_wire;
    std::string_view const text{reinterpret_cast<char const*>(data), size};
    std::string_view error;
    if (auto const m = wire::decode(text, error)) {
        // What decodes encodes back to the same bytes (alerts, controls and probes alike).
        std::string again;
        switch (m->what) {
            case wire::message::kind::alert: again = wire::encode_alert(m->sender, m->alert); break;
            case wire::message::kind::control: again = wire::encode_control(m->sender, m->control); break;
            case wire::message::kind::probe: again = wire::encode_probe(m->sender, m->probe.nonce); break;
        }
        auto const back = wire::decode(again, error);
        if (!back || back->sender != m->sender) std::abort();
    } else if (error.empty()) {
        std::abort();  // a refusal always says why
    }
    auto const space = text.find('\n');
    if (space != std::string_view::npos) (void)wire::decode_presence(text.substr(0, space), text.substr(space + 1));
    (void)wire::decode_pointer(text);
    (void)wire::shard_of(text);
    return 0;
}
