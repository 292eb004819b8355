// to_wire writes a response the way Beast's serializer does, byte for byte.
#include "net/http_types.hpp"

#include <boost/beast/http/write.hpp>

#include <gtest/gtest.h>

#include <sstream>

namespace http = boost::beast::http;
using vigil::net::http_request;
using vigil::net::http_response;
using vigil::net::json_error;
using vigil::net::json_response;
using vigil::net::to_wire;

namespace {

std::string beast_wire(http_response res) {
    std::ostringstream os;
    os << res;
    return os.str();
}

http_request request(unsigned version, bool keep_alive) {
    http_request req{http::verb::post, "/api/v1/alerts", version};
    req.keep_alive(keep_alive);
    return req;
}

}  // namespace

TEST(HttpWire, MatchesBeastsSerializer) {
    for (unsigned version : {10u, 11u})
        for (bool keep_alive : {true, false}) {
            auto const req = request(version, keep_alive);
            auto created = json_response(http::status::created, R"({"alert_id":"a","seq":1})", req);
            EXPECT_EQ(to_wire(created), beast_wire(created)) << version << keep_alive;

            auto busy = json_error(http::status::service_unavailable, "overloaded", "try again", req);
            busy.set(http::field::retry_after, "1");
            busy.set("X-Content-Type-Options", "nosniff");
            EXPECT_EQ(to_wire(busy), beast_wire(busy));

            http_response empty{http::status::no_content, version};
            empty.keep_alive(keep_alive);
            empty.prepare_payload();
            EXPECT_EQ(to_wire(empty), beast_wire(empty));
        }
}

TEST(HttpWire, HeadBodyAndLengthAgree) {
    auto const res = json_response(http::status::created, R"({"seq":1})", request(11, true));
    auto const wire = to_wire(res);
    EXPECT_EQ(wire.rfind("HTTP/1.1 201 Created\r\n", 0), 0u);
    EXPECT_NE(wire.find("\r\nContent-Length: 9\r\n"), std::string::npos);
    EXPECT_EQ(wire.substr(wire.size() - 13), "\r\n\r\n{\"seq\":1}");
}
