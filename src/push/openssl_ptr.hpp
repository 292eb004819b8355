#pragma once
// Owning pointers for OpenSSL objects: ossl::ptr<EVP_MD_CTX, EVP_MD_CTX_free>.
#include <memory>

namespace vigil::push::ossl {

template <class T, auto Free>
struct free_with {
    void operator()(T* p) const noexcept { Free(p); }
};

template <class T, auto Free>
using ptr = std::unique_ptr<T, free_with<T, Free>>;

}  // namespace vigil::push::ossl
