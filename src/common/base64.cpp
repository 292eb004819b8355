#include "common/base64.hpp"

#include <openssl/evp.h>

#include <climits>

namespace vigil {

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // EVP_EncodeBlock adds a NUL
    int const n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<unsigned char const*>(bytes.data()), int(bytes.size()));
    out.resize(std::size_t(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0 || text.size() > std::size_t(INT_MAX)) return std::nullopt;
    std::size_t padding = 0;
    while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
    for (std::size_t i = 0; i < text.size() - padding; ++i) {
        char const c = text[i];
        bool const ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok) return std::nullopt;
    }
    std::string out(text.size() / 4 * 3, '\0');
    int const n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<unsigned char const*>(text.data()), int(text.size()));
    if (n < 0) return std::nullopt;
    out.resize(std::size_t(n) - padding);  // EVP_DecodeBlock counts the padding as zero bytes
    return out;
}

std::string base64url_encode(std::string_view bytes) {
    std::string out = base64_encode(bytes);
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) {
        if (c == '+')
            c = '-';
        else if (c == '/')
            c = '_';
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    std::size_t padding = 0;
    while (padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
    std::size_t const n = text.size() - padding;
    // 1 character left over encodes no whole byte; padding only completes a group.
    if (n % 4 == 1 || (padding != 0 && (n + padding) % 4 != 0) || padding > 2) return std::nullopt;
    std::string standard;
    standard.reserve(n + 3);
    for (std::size_t i = 0; i < n; ++i) {
        char const c = text[i];
        if (c == '+' || c == '/') return std::nullopt;
        standard.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
    }
    // The low bits the last character has beyond the last whole byte.
    if (n % 4 != 0) {
        char const last = standard.back();
        int v = 0;
        if (last >= 'A' && last <= 'Z')
            v = last - 'A';
        else if (last >= 'a' && last <= 'z')
            v = last - 'a' + 26;
        else if (last >= '0' && last <= '9')
            v = last - '0' + 52;
        else if (last == '+')
            v = 62;
        else if (last == '/')
            v = 63;
        else
            return std::nullopt;
        int const unused_mask = n % 4 == 2 ? 0x0f : 0x03;
        if ((v & unused_mask) != 0) return std::nullopt;
    }
    while (standard.size() % 4 != 0) standard.push_back('=');
    return base64_decode(standard);
}

}  // namespace vigil
