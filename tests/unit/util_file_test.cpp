#include "hpn/util/file.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "hpn/util/sha256.hpp"
#include "hpn/util/write_behind.hpp"
#include "support/testenv.hpp"

namespace fs = std::filesystem;
using hpn::util::AtomicFile;

TEST(AtomicFile, CommitGivesTheFinalNameWithMode0600) {
  hpn::test::TempDir dir;
  auto f = AtomicFile::create(dir / "a.tar");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(fs::exists(dir / "a.tar.part"));
  EXPECT_FALSE(fs::exists(dir / "a.tar"));
  ASSERT_TRUE(f->write("hello").ok());
  ASSERT_TRUE(f->commit().ok());
  EXPECT_TRUE(fs::exists(dir / "a.tar"));
  EXPECT_FALSE(fs::exists(dir / "a.tar.part"));
  EXPECT_EQ(fs::file_size(dir / "a.tar"), 5u);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "a.tar").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AtomicFile, UncommittedFileLeavesNothingBehind) {
  hpn::test::TempDir dir;
  {
    auto f = AtomicFile::create(dir / "b.tar");
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f->write("partial").ok());
  }
  EXPECT_FALSE(fs::exists(dir / "b.tar"));
  EXPECT_FALSE(fs::exists(dir / "b.tar.part"));
}

TEST(AtomicFile, CreateInMissingDirectoryNamesThePath) {
  auto f = AtomicFile::create("/nonexistent-dir-hpn/x.tar");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().kind, hpn::ErrorKind::io);  // a local I/O failure, not a missing image
  EXPECT_NE(f.error().message.find("/nonexistent-dir-hpn/x.tar.part"), std::string::npos);
}

TEST(ErrnoError, NoSpaceNamesThePath) {
  auto e = hpn::util::errno_error(ENOSPC, "cannot write", "/data/x.tar.part");
  EXPECT_EQ(e.kind, hpn::ErrorKind::no_space);
  EXPECT_NE(e.message.find("no space left on /data/x.tar.part"), std::string::npos);
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(hpn::util::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  hpn::util::Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, PreparedAlgorithmServesManyThreadsAtOnce) {
  std::jthread early(hpn::util::Sha256::prepare);  // as save does, racing the first digests
  std::vector<std::string> got(8);
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < got.size(); ++i) {
      threads.emplace_back([&got, i] {
        for (int round = 0; round < 50; ++round) got[i] = hpn::util::sha256_hex("abc");
      });
    }
  }
  for (const auto& g : got) EXPECT_EQ(g, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AtomicFile, LargeWritesStartWritebackEveryStepAndKeepEveryByte) {
  hpn::test::TempDir dir;
  auto f = AtomicFile::create(dir / "big.tar");
  ASSERT_TRUE(f.ok());
  constexpr std::size_t k_chunk = 300u << 10;  // not a divisor of the step
  std::string chunk(k_chunk, '\0');
  hpn::util::Sha256 expected;
  std::uint64_t total = 0;
  for (std::size_t i = 0; total < 2 * AtomicFile::k_writeback_step_bytes + k_chunk; ++i) {
    for (std::size_t j = 0; j < chunk.size(); j += 4096) chunk[j] = static_cast<char>(i + j / 4096);
    if (total + k_chunk < AtomicFile::k_writeback_step_bytes) {
      ASSERT_EQ(f->writeback_hints(), 0u) << "a hint before the first step, at " << total;
    }
    ASSERT_TRUE(f->write(chunk).ok());
    expected.update(chunk);
    total += k_chunk;
  }
  EXPECT_EQ(f->writeback_hints(), total / AtomicFile::k_writeback_step_bytes);
  ASSERT_TRUE(f->commit().ok());
  ASSERT_EQ(fs::file_size(dir / "big.tar"), total);
  EXPECT_EQ(hpn::util::sha256_hex(hpn::test::slurp(dir / "big.tar")), expected.hex_digest());
}

TEST(AtomicFile, SmallFilesStartNoWriteback) {
  hpn::test::TempDir dir;
  auto f = AtomicFile::create(dir / "small.tar");
  ASSERT_TRUE(f.ok());
  std::string chunk(1u << 20, 'x');
  for (std::uint64_t total = 0; total + chunk.size() < AtomicFile::k_writeback_step_bytes; total += chunk.size()) {
    ASSERT_TRUE(f->write(chunk).ok());
  }
  EXPECT_EQ(f->writeback_hints(), 0u);
  ASSERT_TRUE(f->commit().ok());
}

TEST(AtomicFile, StalePartFromACrashedRunIsReplacedNotAppended) {
  hpn::test::TempDir dir;
  {
    std::FILE* stale = std::fopen((dir / "s.tar.part").c_str(), "w");
    ASSERT_NE(stale, nullptr);
    std::fputs("stale bytes from a crashed run", stale);
    std::fclose(stale);
  }
  auto f = AtomicFile::create(dir / "s.tar");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->write("new").ok());
  ASSERT_TRUE(f->commit().ok());
  EXPECT_EQ(fs::file_size(dir / "s.tar"), 3u);
  EXPECT_FALSE(fs::exists(dir / "s.tar.part"));
}

// ---- WriteBehind ----------------------------------------------------------------

namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::string read_all(const fs::path& p) {
  std::string out(fs::file_size(p), '\0');
  FILE* f = std::fopen(p.c_str(), "rb");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(std::fread(out.data(), 1, out.size(), f), out.size());
  std::fclose(f);
  return out;
}

}  // namespace

TEST(WriteBehind, ChunksOfAnySizeArriveInOrderWithTheirHash) {
  using hpn::util::WriteBehind;
  hpn::test::TempDir dir;
  // Many buffers' worth, in chunks that straddle the buffers' edges.
  const std::string data = pattern(7 * WriteBehind::k_buffer_bytes + 1234);
  auto f = AtomicFile::create(dir / "w.tar");
  ASSERT_TRUE(f.ok());
  WriteBehind w(std::move(*f));
  std::size_t at = 0;
  for (std::size_t step = 1; at < data.size(); step = step * 3 % 100003 + 7) {
    const std::size_t n = std::min(step, data.size() - at);
    ASSERT_TRUE(w.write(std::string_view(data).substr(at, n)).ok());
    at += n;
  }
  auto done = w.finish();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->sha256_hex, hpn::util::sha256_hex(data));
  EXPECT_EQ(done->file.bytes_written(), data.size());
  EXPECT_FALSE(fs::exists(dir / "w.tar"));  // named only by the commit
  ASSERT_TRUE(done->file.commit().ok());
  EXPECT_EQ(read_all(dir / "w.tar"), data);
}

TEST(WriteBehind, AStreamSmallerThanABufferIsWrittenAtTheEnd) {
  hpn::test::TempDir dir;
  auto f = AtomicFile::create(dir / "s.tar");
  ASSERT_TRUE(f.ok());
  hpn::util::WriteBehind w(std::move(*f));
  ASSERT_TRUE(w.write("small").ok());
  auto done = w.finish();
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->sha256_hex, hpn::util::sha256_hex("small"));
  ASSERT_TRUE(done->file.commit().ok());
  EXPECT_EQ(read_all(dir / "s.tar"), "small");
}

TEST(WriteBehind, AFailedWriteStopsTheStreamAndLeavesNoFile) {
  using hpn::util::WriteBehind;
  hpn::test::TempDir dir;
  auto f = AtomicFile::create(dir / "e.tar");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->close().ok());  // every write to it fails
  {
    WriteBehind w(std::move(*f));
    const std::string chunk = pattern(WriteBehind::k_buffer_bytes / 2);
    bool refused = false;
    for (int i = 0; i < 64 && !refused; ++i) refused = !w.write(chunk).ok();
    EXPECT_TRUE(refused) << "a failed write on the writing thread reaches the producer";
    auto done = w.finish();
    ASSERT_FALSE(done.ok());
    EXPECT_NE(done.error().message.find("e.tar.part"), std::string::npos) << done.error().message;
  }
  EXPECT_FALSE(fs::exists(dir / "e.tar"));
  EXPECT_FALSE(fs::exists(dir / "e.tar.part"));
}

TEST(WriteBehind, AStreamGivenUpLeavesNoFile) {
  using hpn::util::WriteBehind;
  hpn::test::TempDir dir;
  {
    auto f = AtomicFile::create(dir / "g.tar");
    ASSERT_TRUE(f.ok());
    WriteBehind w(std::move(*f));
    ASSERT_TRUE(w.write(pattern(3 * WriteBehind::k_buffer_bytes)).ok());
  }
  EXPECT_FALSE(fs::exists(dir / "g.tar"));
  EXPECT_FALSE(fs::exists(dir / "g.tar.part"));
}
