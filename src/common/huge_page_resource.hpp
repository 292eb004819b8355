#pragma once
// Memory for data that grows large and stays: the memory store's retained
// alerts. Blocks come from 2 MiB chunks advised MADV_HUGEPAGE, so the kernel
// can back each with one huge page: one page fault per 2 MiB instead of 512.
// On paravirtualised VMs a fault costs several µs, and a store gaining ~100k
// alerts a second spent a quarter of its CPU in them
// (docs/decisions/0005-huge-page-arena.md).
//
// Small blocks are carved from the current chunk and given back only when the
// resource is destroyed: put a std::pmr::unsynchronized_pool_resource over it,
// which reuses freed blocks and asks here only for its own chunks. Blocks
// above `separate_above` get a mapping of their own, unmapped on deallocate;
// set it to the pool's largest pooled block so the blocks the pool passes
// through are freed for real. Not thread-safe (neither is the pool).
#include <cstddef>
#include <memory_resource>
#include <vector>

namespace vigil {

class huge_page_resource final : public std::pmr::memory_resource {
public:
    static constexpr std::size_t chunk_bytes = std::size_t{2} << 20;

    explicit huge_page_resource(std::size_t separate_above = chunk_bytes / 2);
    ~huge_page_resource() override;
    huge_page_resource(huge_page_resource const&) = delete;
    huge_page_resource& operator=(huge_page_resource const&) = delete;

    // Before the first allocation: deallocate tells the two kinds apart by size.
    void separate_above(std::size_t bytes) { separate_above_ = bytes < chunk_bytes ? bytes : chunk_bytes; }
    // Bytes mapped now (chunks and separate blocks).
    std::size_t mapped_bytes() const { return mapped_; }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override;
    void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
    bool do_is_equal(std::pmr::memory_resource const& other) const noexcept override { return this == &other; }

    std::size_t separate_above_;
    std::vector<void*> chunks_;
    char* next_ = nullptr;
    char* end_ = nullptr;
    std::size_t mapped_ = 0;
};

}  // namespace vigil
