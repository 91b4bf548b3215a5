// KvBlockPool: allocation, sharing, copy-on-write, prefix caching, LRU eviction and exhaustion,
// with the invariant check after every operation, plus a long randomized run against a simple
// model of the expected state.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "core/error.hpp"
#include "kv/block_pool.hpp"

namespace pagoda {
namespace {

std::vector<int32_t> toks(int32_t start, int32_t n = 4) {
  std::vector<int32_t> v;
  for (int32_t i = 0; i < n; ++i) v.push_back(start + i);
  return v;
}

TEST(KvBlockPool, AllocatesEveryBlockOnceThenRunsOut) {
  KvBlockPool pool(8, 4, 1);
  std::set<int32_t> got;
  for (int i = 0; i < 8; ++i) {
    auto b = pool.allocate();
    ASSERT_TRUE(b.has_value());
    EXPECT_TRUE(got.insert(*b).second);
    pool.check_invariants();
  }
  EXPECT_FALSE(pool.allocate().has_value());
  EXPECT_EQ(pool.num_available(), 0);
  for (int32_t b : got) pool.release(b);
  pool.check_invariants();
  EXPECT_EQ(pool.num_free(), 8);
}

TEST(KvBlockPool, SharedBlockIsFreedOnlyByTheLastHolder) {
  KvBlockPool pool(2, 4, 1);
  int32_t b = *pool.allocate();
  pool.retain(b);
  EXPECT_EQ(pool.ref_count(b), 2);
  pool.release(b);
  EXPECT_EQ(pool.num_free(), 1);
  pool.release(b);
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_THROW(pool.release(b), Error);  // double free is an error, not corruption
  pool.check_invariants();
}

TEST(KvBlockPool, CopyOnWriteGivesTheWriterAPrivateBlock) {
  KvBlockPool pool(4, 4, 1);
  int32_t b = *pool.allocate();
  EXPECT_FALSE(pool.make_writable(b).has_value());  // private: write in place
  pool.retain(b);                                    // a forked sequence shares it
  auto cow = pool.make_writable(b);
  ASSERT_TRUE(cow.has_value());
  EXPECT_EQ(cow->src, b);
  EXPECT_NE(cow->dst, b);
  EXPECT_EQ(pool.ref_count(b), 1);
  EXPECT_EQ(pool.ref_count(cow->dst), 1);
  pool.check_invariants();
}

TEST(KvBlockPool, CopyOnWriteWithoutSpaceFailsCleanly) {
  KvBlockPool pool(1, 4, 1);
  int32_t b = *pool.allocate();
  pool.retain(b);
  EXPECT_THROW(pool.make_writable(b), Error);
  EXPECT_EQ(pool.ref_count(b), 2);  // nothing changed
  pool.check_invariants();
}

TEST(KvBlockPool, PrefixCacheHitReusesThePublishedBlock) {
  KvBlockPool pool(4, 4, 99);
  int32_t b = *pool.allocate();
  const uint64_t h = pool.chain_hash(0, toks(10));
  EXPECT_TRUE(pool.publish(b, h, toks(10)));
  pool.release(b);  // idle but cached
  EXPECT_EQ(pool.num_cached_idle(), 1);
  auto hit = pool.lookup(h, toks(10));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit, b);
  EXPECT_EQ(pool.ref_count(b), 1);
  EXPECT_EQ(pool.hits(), 1u);
  pool.check_invariants();
}

TEST(KvBlockPool, HashCollisionNeverReturnsWrongTokens) {
  KvBlockPool pool(4, 4, 99);
  int32_t b = *pool.allocate();
  const uint64_t h = pool.chain_hash(0, toks(10));
  pool.publish(b, h, toks(10));
  // Same hash, different tokens: as if two contents collided.
  EXPECT_FALSE(pool.lookup(h, toks(11)).has_value());
  pool.check_invariants();
}

TEST(KvBlockPool, ChainHashDependsOnParentAndKey) {
  KvBlockPool a(1, 4, 1), b(1, 4, 2);
  EXPECT_NE(a.chain_hash(0, toks(1)), a.chain_hash(1, toks(1)));
  EXPECT_NE(a.chain_hash(0, toks(1)), a.chain_hash(0, toks(2)));
  EXPECT_NE(a.chain_hash(0, toks(1)), b.chain_hash(0, toks(1)));
}

TEST(KvBlockPool, EvictsLeastRecentlyReleasedCachedBlock) {
  KvBlockPool pool(3, 4, 5);
  int32_t x = *pool.allocate(), y = *pool.allocate(), z = *pool.allocate();
  pool.publish(x, pool.chain_hash(0, toks(0)), toks(0));
  pool.publish(y, pool.chain_hash(0, toks(4)), toks(4));
  pool.release(y);  // y idle first
  pool.release(x);  // then x
  auto n = pool.allocate();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, y);  // LRU
  EXPECT_FALSE(pool.is_cached(y));
  EXPECT_FALSE(pool.lookup(pool.chain_hash(0, toks(4)), toks(4)).has_value());
  EXPECT_TRUE(pool.lookup(pool.chain_hash(0, toks(0)), toks(0)).has_value());
  (void)z;
  pool.check_invariants();
}

TEST(KvBlockPool, WritingASoleHeldCachedBlockUnpublishesIt) {
  KvBlockPool pool(2, 4, 5);
  int32_t x = *pool.allocate();
  const uint64_t h = pool.chain_hash(0, toks(0));
  pool.publish(x, h, toks(0));
  EXPECT_FALSE(pool.make_writable(x).has_value());
  EXPECT_FALSE(pool.is_cached(x));
  EXPECT_FALSE(pool.lookup(h, toks(0)).has_value());
  pool.check_invariants();
}

TEST(KvBlockPool, DuplicateContentKeepsOneCachedCopy) {
  KvBlockPool pool(2, 4, 5);
  int32_t x = *pool.allocate(), y = *pool.allocate();
  const uint64_t h = pool.chain_hash(0, toks(0));
  EXPECT_TRUE(pool.publish(x, h, toks(0)));
  EXPECT_FALSE(pool.publish(y, h, toks(0)));
  pool.release(y);
  EXPECT_EQ(pool.num_free(), 1);
  pool.check_invariants();
}

TEST(KvBlockPool, RejectsBadIdsAndSizes) {
  EXPECT_THROW(KvBlockPool(0, 4, 1), Error);
  KvBlockPool pool(2, 4, 1);
  EXPECT_THROW(pool.retain(7), Error);
  EXPECT_THROW(pool.retain(0), Error);  // not held
  int32_t b = *pool.allocate();
  EXPECT_THROW(pool.publish(b, 1, toks(0, 3)), Error);  // not a full block
  pool.check_invariants();
}

// Many sequences appending, forking, publishing, looking up and finishing at random; after every
// operation the pool's invariants hold and every block's count equals the holders in the model.
TEST(KvBlockPool, RandomizedOperationsKeepInvariants) {
  std::mt19937 rng(2024);
  constexpr int32_t kBlocks = 24;
  KvBlockPool pool(kBlocks, 4, 77);
  std::vector<std::vector<int32_t>> seqs;  // the blocks each live sequence holds
  auto holders = [&] {
    std::map<int32_t, int32_t> h;
    for (auto& s : seqs)
      for (int32_t b : s) ++h[b];
    return h;
  };
  for (int step = 0; step < 20000; ++step) {
    const int op = std::uniform_int_distribution<int>(0, 5)(rng);
    if (op == 0 || seqs.empty()) {  // new sequence, maybe a prefix-cache hit
      std::vector<int32_t> s;
      const int32_t content = std::uniform_int_distribution<int32_t>(0, 5)(rng);
      auto hit = pool.lookup(pool.chain_hash(0, toks(content * 4)), toks(content * 4));
      if (hit) s.push_back(*hit);
      else if (auto b = pool.allocate()) s.push_back(*b);
      if (!s.empty()) seqs.push_back(s);
    } else {
      auto& s = seqs[std::uniform_int_distribution<size_t>(0, seqs.size() - 1)(rng)];
      if (op == 1) {  // append a block
        if (auto b = pool.allocate()) s.push_back(*b);
      } else if (op == 2 && !s.empty()) {  // publish its first block under some content
        const int32_t content = std::uniform_int_distribution<int32_t>(0, 5)(rng);
        pool.publish(s[0], pool.chain_hash(0, toks(content * 4)), toks(content * 4));
      } else if (op == 3) {  // fork (parallel sampling)
        for (int32_t b : s) pool.retain(b);
        std::vector<int32_t> copy = s;
        seqs.push_back(copy);
      } else if (op == 4 && !s.empty()) {  // write into the last block
        if (pool.num_available() > 0 || pool.ref_count(s.back()) == 1) {
          if (auto cow = pool.make_writable(s.back())) s.back() = cow->dst;
        }
      } else if (op == 5) {  // finish
        const size_t i = static_cast<size_t>(&s - seqs.data());
        for (int32_t b : seqs[i]) pool.release(b);
        seqs.erase(seqs.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    ASSERT_NO_THROW(pool.check_invariants()) << "step " << step;
    auto h = holders();
    int32_t in_use = 0;
    for (int32_t b = 0; b < kBlocks; ++b) {
      ASSERT_EQ(pool.ref_count(b), h.count(b) ? h[b] : 0) << "block " << b << " step " << step;
      in_use += pool.ref_count(b) > 0;
    }
    ASSERT_EQ(pool.num_in_use(), in_use);
  }
  for (auto& s : seqs)
    for (int32_t b : s) pool.release(b);
  pool.check_invariants();
  EXPECT_EQ(pool.num_in_use(), 0);
  EXPECT_EQ(pool.num_available(), kBlocks);
}

}  // namespace
}  // namespace pagoda
