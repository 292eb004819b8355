// Asio's and Beast's out-of-line definitions, compiled once for the whole
// program (BOOST_ASIO_SEPARATE_COMPILATION, BOOST_BEAST_SEPARATE_COMPILATION).
#if defined(BOOST_ASIO_HAS_IO_URING)
// On io_uring, Boost 1.81's io_uring_service.ipp with the fix in third_party/asio,
// made at configure time. Included first, its include guard keeps src.hpp from
// including the original.
#if !defined(VIGIL_ASIO_URING_FIXED)
#error "io_uring builds compile the fixed io_uring_service.ipp (see CMakeLists.txt)"
#endif
#include <boost/asio/detail/concurrency_hint.hpp>  // src.hpp has it in scope before the .ipp
#include VIGIL_ASIO_URING_FIXED
#endif
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
