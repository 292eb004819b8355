// ws_session over plain TCP.
#include "net/ws_session.ipp"

template class vigil::net::ws_session<vigil::net::lingering_socket>;
