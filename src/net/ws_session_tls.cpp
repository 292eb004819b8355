// ws_session over TLS.
#include "net/ws_session.ipp"

template class vigil::net::ws_session<vigil::net::tls_http_stream>;
