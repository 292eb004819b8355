#include "common/huge_page_resource.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace vigil {

namespace {

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// A mapping of `bytes` (a multiple of the chunk size) aligned to a chunk, so
// that the kernel can use huge pages for all of it.
void* map_aligned(std::size_t bytes) {
    std::size_t const span = bytes + huge_page_resource::chunk_bytes;
    void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc{};
    auto const start = reinterpret_cast<std::uintptr_t>(raw);
    auto const aligned = round_up(start, huge_page_resource::chunk_bytes);
    if (aligned > start) ::munmap(raw, aligned - start);
    if (auto const tail = start + span - (aligned + bytes); tail > 0)
        ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
    auto* p = reinterpret_cast<void*>(aligned);
    ::madvise(p, bytes, MADV_HUGEPAGE);  // advice: refused or unsupported only costs speed
    return p;
}

}  // namespace

huge_page_resource::huge_page_resource(std::size_t separate_above) { this->separate_above(separate_above); }

huge_page_resource::~huge_page_resource() {
    for (void* c : chunks_) ::munmap(c, chunk_bytes);
}

void* huge_page_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
    if (alignment > chunk_bytes) throw std::bad_alloc{};
    if (bytes > separate_above_) {
        auto const size = round_up(bytes, chunk_bytes);
        void* p = map_aligned(size);
        mapped_ += size;
        return p;
    }
    auto* p = reinterpret_cast<char*>(round_up(reinterpret_cast<std::uintptr_t>(next_), alignment));
    if (next_ == nullptr || p + bytes > end_) {
        // The rest of the current chunk is left unused: it is less than this block.
        void* c = map_aligned(chunk_bytes);
        chunks_.push_back(c);
        mapped_ += chunk_bytes;
        p = static_cast<char*>(c);
        end_ = p + chunk_bytes;
    }
    next_ = p + bytes;
    return p;
}

void huge_page_resource::do_deallocate(void* p, std::size_t bytes, std::size_t) {
    if (bytes > separate_above_) {
        auto const size = round_up(bytes, chunk_bytes);
        ::munmap(p, size);
        mapped_ -= size;
    }
    // Carved blocks stay with their chunk until the resource goes.
}

}  // namespace vigil
