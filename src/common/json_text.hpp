#pragma once
// JSON kept as text. A detection travels as its producer wrote it: through a
// boost::json::value its numbers would be written back in another spelling
// (Boost.JSON 1.81 writes 0.93 as 9.3E-1, and an integer beyond 64 bits as a
// rounded double), so vigil keeps the producer's tokens and only drops the
// whitespace between them. Pure functions.
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::json_text {

// For a text that a JSON parser has already accepted whole:
//
// The text of the value of `key` in the object `object_text`, or nothing when
// the object has no such member (or the text is not an object). A repeated
// key gives its last value, as Boost.JSON keeps it. Keys are compared
// decoded ("d\u0065tection" is "detection").
std::optional<std::string_view> member(std::string_view object_text, std::string_view key);

// The texts of the elements of the array `array_text` (empty when it is not an array).
std::vector<std::string_view> elements(std::string_view array_text);

// `text` without insignificant whitespace; numbers and strings exactly as written.
std::string compact(std::string_view text);

// A value written as JSON text, numbers in their shortest round-trip form
// (0.93, not 9.3E-1), for values built in C++ rather than received.
std::string serialize(boost::json::value const& v);

}  // namespace vigil::json_text
