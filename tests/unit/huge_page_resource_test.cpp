#include "common/huge_page_resource.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <set>
#include <string>
#include <vector>

using namespace vigil;

TEST(HugePageResource, CarvesSmallBlocksFromChunksAlignedAndDistinct) {
    huge_page_resource arena;
    std::set<std::uintptr_t> seen;
    // More than one chunk's worth of 1000-byte blocks.
    for (int i = 0; i < 3000; ++i) {
        auto* p = static_cast<char*>(arena.allocate(1000, 64));
        ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
        std::memset(p, i & 0xff, 1000);  // writable, all of it
        ASSERT_TRUE(seen.insert(reinterpret_cast<std::uintptr_t>(p)).second);
    }
    EXPECT_EQ(arena.mapped_bytes(), 2 * huge_page_resource::chunk_bytes);
}

TEST(HugePageResource, LargeBlocksAreMappedAloneAndGivenBack) {
    huge_page_resource arena{64 * 1024};
    void* big = arena.allocate(3 * 1024 * 1024);
    std::memset(big, 1, 3 * 1024 * 1024);
    EXPECT_EQ(arena.mapped_bytes(), 2 * huge_page_resource::chunk_bytes);  // rounded to chunks
    arena.deallocate(big, 3 * 1024 * 1024);
    EXPECT_EQ(arena.mapped_bytes(), 0u);
}

TEST(HugePageResource, UnderAPoolFreedBlocksAreReused) {
    // What the memory store relies on: a store at its retention limit, adding
    // and dropping alerts, stops growing.
    huge_page_resource arena;
    std::pmr::unsynchronized_pool_resource pool{std::pmr::pool_options{0, 1 << 20}, &arena};
    arena.separate_above(pool.options().largest_required_pool_block);
    std::pmr::vector<std::pmr::string> kept{&pool};
    auto churn = [&] {
        for (int i = 0; i < 20000; ++i) {
            kept.emplace_back(std::string(100 + i % 200, 'x'));
            if (kept.size() > 5000) kept.erase(kept.begin(), kept.begin() + 1000);
        }
    };
    churn();
    auto const after_first = arena.mapped_bytes();
    for (int round = 0; round < 5; ++round) churn();
    EXPECT_EQ(arena.mapped_bytes(), after_first);
    // A block bigger than the pool serves goes back to the system when freed.
    kept.emplace_back(std::string(2 << 20, 'y'));
    kept.pop_back();
    EXPECT_EQ(arena.mapped_bytes(), after_first);
}
