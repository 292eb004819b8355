// The close codes are defined once (src/proto/close_codes.hpp); the protocol
// page and the TypeScript client must list exactly those.
#include "proto/close_codes.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace {

std::string source_file(std::string const& path) {
    std::ifstream in{std::string{VIGIL_SOURCE_DIR} + "/" + path};
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::set<int> defined_codes() {
    std::set<int> out;
    for (auto const& c : vigil::close_code::all) out.insert(c.code);
    return out;
}

// The first column of the table under `### Close codes`.
std::set<int> protocol_page_codes() {
    auto const text = source_file("docs/protocol.md");
    auto const start = text.find("### Close codes");
    if (start == std::string::npos) throw std::runtime_error("docs/protocol.md has no close-code table");
    std::istringstream lines{text.substr(start)};
    std::set<int> out;
    std::string line;
    std::regex const row{R"(^\| (\d{4}) \|)"};
    bool in_table = false;
    while (std::getline(lines, line)) {
        if (line.starts_with("|")) {
            in_table = true;
            if (std::smatch m; std::regex_search(line, m, row)) out.insert(std::stoi(m[1]));
        } else if (in_table) {
            break;
        }
    }
    return out;
}

// The keys of CLOSE_CODES in the client's decisions.ts.
std::set<int> typescript_codes() {
    auto const text = source_file("clients/ts/src/decisions.ts");
    auto const start = text.find("const CLOSE_CODES");
    auto const end = text.find("\n};", start);
    if (start == std::string::npos || end == std::string::npos)
        throw std::runtime_error("clients/ts/src/decisions.ts has no CLOSE_CODES table");
    auto const table = text.substr(start, end - start);
    std::set<int> out;
    std::regex const key{R"(\n\s*(\d{4}):)"};
    for (std::sregex_iterator it{table.begin(), table.end(), key}, last; it != last; ++it)
        out.insert(std::stoi((*it)[1]));
    return out;
}

}  // namespace

TEST(CloseCodes, ProtocolPageListsExactlyTheDefinedCodes) { EXPECT_EQ(protocol_page_codes(), defined_codes()); }

TEST(CloseCodes, TypeScriptClientKnowsEveryDefinedCode) {
    auto const ts = typescript_codes();
    for (int code : defined_codes()) EXPECT_TRUE(ts.count(code)) << code << " missing from clients/ts/src/decisions.ts";
    // Beyond them only the codes a browser reports itself: 1000 (normal) and
    // 1006 (no close frame), which the server never sends on purpose.
    for (int code : ts)
        EXPECT_TRUE(defined_codes().count(code) || code == 1000 || code == 1006)
            << code << " is in the TypeScript client but not in src/proto/close_codes.hpp";
}

TEST(CloseCodes, AreListedInAscendingOrderWithDistinctNames) {
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < vigil::close_code::all.size(); ++i) {
        if (i > 0) {
            EXPECT_LT(vigil::close_code::all[i - 1].code, vigil::close_code::all[i].code);
        }
        EXPECT_TRUE(names.insert(vigil::close_code::all[i].name).second);
    }
}
