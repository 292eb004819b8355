// POST /api/v1/alerts bodies: JSON, batches, base64 frames, timestamps.
#include "alerts/alert_validation.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    vigil::alert_limits limits;
    limits.max_frame_bytes = 64 * 1024;
    auto const r = vigil::parse_publish_body(std::string_view{reinterpret_cast<char const*>(data), size}, limits,
                                             "2026-01-01T00:00:00.000Z");
    if (r) {
        for (auto const& a : r->alerts) {
            // The audience: a user, or a team whose members' copies are made later.
            bool const audience = a.user_id.empty() ? vigil::valid_handling_name(a.team)
                                                    : vigil::valid_user_id(a.user_id) && a.team.empty();
            if (!audience || a.stream_id.empty()) __builtin_trap();
            if (!a.escalation.empty() && !vigil::valid_handling_name(a.escalation)) __builtin_trap();
            if (a.frame && vigil::sniff_image_type(a.frame->bytes).empty()) __builtin_trap();
            // The detection is kept as text: it must still be one JSON object.
            boost::system::error_code ec;
            if (!boost::json::parse(a.detection_json, ec).is_object() || ec) __builtin_trap();
        }
    } else if (r.error().code.empty() || r.error().detail.empty()) {
        __builtin_trap();  // every refusal has a code and a detail
    }
    return 0;
}
