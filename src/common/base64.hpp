#pragma once
// Base64 (RFC 4648, standard alphabet, padded) through OpenSSL. Decoding is
// strict: whole 4-character groups, the alphabet only, at most two '=' at
// the end. Beast's detail::base64 is not used: it writes past its own
// decoded_size() for unpadded input (found by the publish_body fuzzer).
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

std::string base64_encode(std::string_view bytes);

// Nothing when `text` is not strict base64.
std::optional<std::string> base64_decode(std::string_view text);

// An upper bound of the decoded size, to refuse oversized input before decoding.
constexpr std::size_t base64_decoded_bound(std::size_t text_size) { return (text_size + 3) / 4 * 3; }

}  // namespace vigil
