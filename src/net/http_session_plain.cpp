// http_session over plain TCP.
#include "net/http_session.ipp"

template class vigil::net::http_session<vigil::net::plain_http_stream>;
