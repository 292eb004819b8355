// http_session over TLS.
#include "net/http_session.ipp"

template class vigil::net::http_session<vigil::net::tls_http_stream>;
