#pragma once
// A TCP relay between a client under test and a real server on 127.0.0.1,
// for failures a server cannot be asked to have: a subscription that stops
// delivering while its TCP connection stays up (a middlebox that lost its
// state, a stuck replica...), or a node cut off from the server.
#include <cstdint>
#include <memory>
#include <string>

namespace vigil::test {

class tcp_proxy {
public:
    // Listens on a free port of 127.0.0.1 and relays every connection to `target_port`.
    explicit tcp_proxy(std::uint16_t target_port);
    ~tcp_proxy();
    tcp_proxy(tcp_proxy const&) = delete;
    tcp_proxy& operator=(tcp_proxy const&) = delete;

    std::uint16_t port() const;
    std::string redis_url() const { return "redis://127.0.0.1:" + std::to_string(port()); }

    // From now on, what the server sends on the connections open now whose
    // client sent SUBSCRIBE is read and thrown away; the connections stay up.
    // Connections opened later are relayed as before.
    void deafen_subscribers();
    // From now on, what the clients of the connections open now that did not
    // SUBSCRIBE send is read and thrown away (never reaches the server); the
    // connections stay up. Connections opened later are relayed as before.
    void mute_commands();
    // Closes every connection and refuses new ones.
    void cut();
    // Accepts connections again, on the same port.
    void restore();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace vigil::test
