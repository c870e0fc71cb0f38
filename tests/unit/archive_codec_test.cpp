#include "hpn/archive/codec.hpp"

#include <algorithm>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <zlib.h>

#include "hpn/archive/archive_info.hpp"
#include "support/testenv.hpp"

using hpn::archive::Compression;
using hpn::archive::Compressor;
using hpn::archive::DecompressingReader;
namespace fs = std::filesystem;

namespace {

std::string sample(std::size_t n) {
  std::string s;
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < n; ++i) s.push_back(i % 3 == 0 ? static_cast<char>(rng()) : static_cast<char>('a' + i % 7));
  return s;
}

std::string compress(Compression c, const std::string& data, int level = -1) {
  std::string out;
  auto comp = Compressor::open(c, level, 2, [&](std::string_view chunk) {
    out.append(chunk);
    return hpn::Status{};
  });
  EXPECT_TRUE(comp.ok()) << comp.error().message;
  for (std::size_t i = 0; i < data.size(); i += 10000) {
    EXPECT_TRUE(comp->write(std::string_view(data).substr(i, 10000)).ok());
  }
  EXPECT_TRUE(comp->finish().ok());
  return out;
}

std::string read_all(const fs::path& p, Compression expect) {
  auto r = DecompressingReader::open(p);
  EXPECT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->compression(), expect);
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = r->read(buf);
    EXPECT_TRUE(n.ok()) << n.error().message;
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

}  // namespace

TEST(Codec, EveryCodecRoundTripsAndIsDetectedFromTheBytes) {
  hpn::test::TempDir dir;
  const std::string data = sample(300000);
  for (Compression c : {Compression::none, Compression::gzip, Compression::zstd, Compression::xz}) {
    const std::string packed = compress(c, data);
    if (c != Compression::none) {
      EXPECT_LT(packed.size(), data.size()) << to_string(c);
    }
    EXPECT_EQ(hpn::archive::detect_compression(packed.substr(0, 8)), c) << to_string(c);
    // A misleading name does not matter: detection uses the bytes.
    const fs::path p = dir / ("data." + std::string(to_string(c)) + ".tar");
    std::ofstream(p, std::ios::binary) << packed;
    EXPECT_EQ(read_all(p, c), data) << to_string(c);
  }
}

// Threads of this process, from /proc.
std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST(Codec, ZstdCompressesOnWorkerThreadsOnlyWhenAskedFor) {
  const std::string data = sample(8 << 20);
  const auto cores = static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
  for (const int threads : {1, 2, 0}) {  // 0: one per core
    const std::size_t before = thread_count();
    std::size_t during = 0;
    std::string out;
    {
      auto comp = Compressor::open(Compression::zstd, -1, threads, [&](std::string_view chunk) {
        out.append(chunk);
        return hpn::Status{};
      });
      ASSERT_TRUE(comp.ok());
      ASSERT_TRUE(comp->write(data).ok());
      during = thread_count();
      ASSERT_TRUE(comp->finish().ok());
    }
    const std::size_t workers = threads == 1 ? 0 : threads == 0 ? (cores > 1 ? cores : 0) : 2;
    if (workers == 0) {
      EXPECT_EQ(during, before) << "threads " << threads;  // compressed on this thread
    } else {
      EXPECT_GE(during, before + workers) << "threads " << threads << ": zstd workers not started";
    }
    EXPECT_EQ(hpn::archive::detect_compression(out), Compression::zstd);
  }
}

TEST(Codec, OutputErrorAbortsCompression) {
  auto comp = Compressor::open(Compression::gzip, 1, 1, [](std::string_view) -> hpn::Status {
    return hpn::Error(hpn::ErrorKind::no_space, "no space left on /x");
  });
  ASSERT_TRUE(comp.ok());
  hpn::Status st = comp->write(sample(200000));
  if (st.ok()) st = comp->finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, hpn::ErrorKind::no_space);
}

TEST(Codec, TruncatedCompressedFileIsAnErrorNamingTheFile) {
  hpn::test::TempDir dir;
  const std::string packed = compress(Compression::zstd, sample(500000));
  const fs::path p = dir / "cut.tar.zst";
  std::ofstream(p, std::ios::binary) << packed.substr(0, packed.size() / 2);
  auto r = DecompressingReader::open(p);
  ASSERT_TRUE(r.ok());
  char buf[65536];
  hpn::Result<std::size_t> n = std::size_t{1};
  while (n.ok() && *n > 0) n = r->read(buf);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find(p.string()), std::string::npos) << n.error().message;
}

// Random bytes do not compress: gzip stores them and zstd keeps them raw, so a
// byte changed in the middle still decompresses cleanly. Only each codec's own
// check of the whole data (gzip's CRC-32, zstd's and xz's checksums) can tell.
TEST(Codec, DamageThatStillDecompressesIsCaughtByTheCodecsChecksum) {
  hpn::test::TempDir dir;
  std::string data(600000, '\0');
  std::mt19937 rng(11);
  for (auto& c : data) c = static_cast<char>(rng());
  for (Compression c : {Compression::gzip, Compression::xz}) {
    SCOPED_TRACE(to_string(c));
    std::string packed = compress(c, data);
    packed[packed.size() / 2] = static_cast<char>(packed[packed.size() / 2] ^ 0x01);
    const fs::path p = dir / ("flipped" + std::string(hpn::archive::file_suffix(c)));
    std::ofstream(p, std::ios::binary) << packed;
    auto r = DecompressingReader::open(p);
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::vector<char> buf(65536);
    std::size_t total = 0;
    hpn::Result<std::size_t> n = std::size_t{1};
    while (n.ok() && *n > 0) {
      n = r->read(buf);
      if (n.ok()) total += *n;
    }
    ASSERT_FALSE(n.ok()) << "read " << total << " bytes without an error";
    EXPECT_EQ(n.error().kind, hpn::ErrorKind::invalid_argument);
    EXPECT_NE(n.error().message.find(p.string() + " is corrupt or truncated"), std::string::npos) << n.error().message;
    if (c == Compression::gzip) {
      EXPECT_NE(n.error().message.find("CRC-32"), std::string::npos) << n.error().message;
    }
  }
}

// The gzip trailer's CRC-32 and length, a file cut short, and several members.
TEST(Codec, GzipTrailerIsCheckedAndMembersFollowOneAnother) {
  hpn::test::TempDir dir;
  const std::string data = sample(300000);
  const std::string packed = compress(Compression::gzip, data);
  const auto read_file = [&](const std::string& name, const std::string& bytes) {
    const fs::path p = dir / name;
    std::ofstream(p, std::ios::binary) << bytes;
    auto r = DecompressingReader::open(p);
    EXPECT_TRUE(r.ok());
    std::string out;
    std::vector<char> buf(7000);  // not a divisor of anything here
    for (;;) {
      auto n = r->read(buf);
      if (!n) return hpn::Result<std::string>(n.error());
      if (*n == 0) break;
      out.append(buf.data(), *n);
    }
    if (!name.starts_with("two")) {
      EXPECT_EQ(r->bytes_consumed(), bytes.size()) << name;
    }
    return hpn::Result<std::string>(out);
  };
  auto whole = read_file("whole.tar.gz", packed);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(*whole, data);

  std::string bad_crc = packed;
  bad_crc[bad_crc.size() - 8] = static_cast<char>(bad_crc[bad_crc.size() - 8] ^ 0x40);
  auto crc = read_file("crc.tar.gz", bad_crc);
  ASSERT_FALSE(crc.ok());
  EXPECT_NE(crc.error().message.find("does not match the CRC-32 in its trailer"), std::string::npos) << crc.error().message;

  std::string bad_len = packed;
  bad_len[bad_len.size() - 4] = static_cast<char>(bad_len[bad_len.size() - 4] ^ 0x01);
  auto len = read_file("len.tar.gz", bad_len);
  ASSERT_FALSE(len.ok());
  EXPECT_NE(len.error().message.find("length in its trailer"), std::string::npos) << len.error().message;

  for (const std::size_t keep : {std::size_t{10}, packed.size() / 2, packed.size() - 3}) {
    auto cut = read_file("cut.tar.gz", packed.substr(0, keep));
    ASSERT_FALSE(cut.ok()) << "kept " << keep;
    EXPECT_NE(cut.error().message.find("ends inside a member"), std::string::npos) << cut.error().message;
  }

  // Two members (as pigz or `cat a.gz b.gz` make), then zero padding.
  auto two = read_file("two.tar.gz", packed + packed + std::string(1024, '\0'));
  ASSERT_TRUE(two.ok()) << two.error().message;
  EXPECT_EQ(*two, data + data);
  // A damaged second member is not ignored.
  auto second = read_file("second.tar.gz", packed + bad_crc);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("CRC-32"), std::string::npos) << second.error().message;
}

TEST(Codec, ParseAndSuffix) {
  EXPECT_EQ(hpn::archive::parse_compression("zstd"), Compression::zstd);
  EXPECT_EQ(hpn::archive::parse_compression("gzip"), Compression::gzip);
  EXPECT_FALSE(hpn::archive::parse_compression("lz4").has_value());
  EXPECT_EQ(hpn::archive::file_suffix(Compression::zstd), ".tar.zst");
  EXPECT_EQ(hpn::archive::file_suffix(Compression::none), ".tar");
}

TEST(Sidecar, WriteReadVerifyAndMismatch) {
  hpn::test::TempDir dir;
  const fs::path a = dir / "x.tar";
  std::ofstream(a) << "abc";
  EXPECT_EQ(*hpn::archive::verify_sidecar(a), hpn::archive::Checksum::none);
  ASSERT_TRUE(hpn::archive::write_sidecar(a, *hpn::archive::file_sha256(a)).ok());
  EXPECT_EQ(*hpn::archive::read_sidecar(a), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(fs::status(dir / "x.tar.sha256").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(*hpn::archive::verify_sidecar(a), hpn::archive::Checksum::ok);
  std::ofstream(a) << "abd";
  EXPECT_EQ(*hpn::archive::verify_sidecar(a), hpn::archive::Checksum::mismatch);
  // sha256sum's format is accepted; junk is an error naming the sidecar.
  std::ofstream(dir / "x.tar.sha256") << std::string(64, 'A') << "  x.tar\n";
  EXPECT_EQ(**hpn::archive::read_sidecar(a), std::string(64, 'a'));
  std::ofstream(dir / "x.tar.sha256") << "nope";
  auto bad = hpn::archive::read_sidecar(a);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("x.tar.sha256"), std::string::npos);
}

TEST(ArchiveInfo, NonArchiveIsRejectedWithTheName) {
  hpn::test::TempDir dir;
  std::ofstream(dir / "junk.tar") << std::string(4096, 'j');
  auto info = hpn::archive::read_archive_info(dir / "junk.tar");
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("junk.tar"), std::string::npos);
}


// ---- LayerGzip: gzip for layers pushed to registries --------------------------

namespace {

std::string layer_gzip(const std::string& data, int level = -1) {
  std::string out;
  auto gz = hpn::archive::LayerGzip::open(level, [&](std::string_view chunk) {
    out.append(chunk);
    return hpn::Status{};
  });
  EXPECT_TRUE(gz.ok());
  for (std::size_t i = 0; i < data.size(); i += 100000) {
    EXPECT_TRUE(gz->write(std::string_view(data).substr(i, 100000)).ok());
  }
  EXPECT_TRUE(gz->finish().ok());
  return out;
}

// Decompressed with zlib itself (a gzip member, as runtimes read it).
std::string gunzip(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  std::vector<char> buf(1 << 16);
  int r = Z_OK;
  while (r == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    r = inflate(&z, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - z.avail_out);
  }
  EXPECT_EQ(r, Z_STREAM_END);
  EXPECT_EQ(z.avail_in, 0u) << "one member, nothing after it";
  inflateEnd(&z);
  return out;
}

}  // namespace

TEST(LayerGzip, RandomAndTextStretchesComeBackByteForByteAndTheTextShrinks) {
  std::mt19937 rng(11);
  std::string data;
  for (int part = 0; part < 6; ++part) {
    for (int i = 0; i < 300000; ++i) {
      data.push_back(part % 2 == 0 ? static_cast<char>(rng()) : "layer text "[i % 11]);
    }
  }
  const std::string gz = layer_gzip(data);
  ASSERT_GE(gz.size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_EQ(gz.substr(4, 4), std::string(4, '\0')) << "mtime 0";
  EXPECT_EQ(gunzip(gz), data);
  // The random half is stored (about 900 kB), the text half nearly vanishes.
  EXPECT_LT(gz.size(), 1000000u);
  EXPECT_GT(gz.size(), 900000u);
  EXPECT_EQ(layer_gzip(data), gz) << "the same input gives the same bytes";
}


// gzip is written by ISA-L: every gzip level gives a member that zlib, as runtimes
// and gzip(1) do, reads back whole; higher levels give no larger output.
TEST(Codec, EveryGzipLevelGivesAMemberZlibReads) {
  std::string data;
  while (data.size() < 2'000'000) data += "usr/lib/x86_64-linux-gnu/libexample.so." + std::to_string(data.size() % 977) + "\n";
  std::size_t at_1 = 0;
  std::size_t at_9 = 0;
  for (int level = 0; level <= 9; ++level) {
    SCOPED_TRACE(level);
    const std::string gz = compress(Compression::gzip, data, level);
    EXPECT_EQ(gunzip(gz), data);
    if (level == 1) at_1 = gz.size();
    if (level == 9) at_9 = gz.size();
  }
  EXPECT_LT(at_9, at_1) << "level 9 (igzip's 3) compresses better than level 1";
  EXPECT_EQ(compress(Compression::gzip, data), compress(Compression::gzip, data, 6)) << "the default is level 6";
  auto too_high = Compressor::open(Compression::gzip, 10, 1, [](std::string_view) { return hpn::Status{}; });
  ASSERT_FALSE(too_high.ok());
  EXPECT_NE(too_high.error().message.find("level 10"), std::string::npos) << too_high.error().message;
}

// A gzip file from another tool: a header with a file name, an extra field and a
// comment (zlib writes them here), read through ISA-L's inflate.
TEST(Codec, GzipHeadersWithANameAndAnExtraFieldAreRead) {
  hpn::test::TempDir dir;
  const std::string data = sample(400000);
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  char name[] = "image.tar";
  char comment[] = "saved by a tool";
  unsigned char extra[] = {'H', 'P', 4, 0, 1, 2, 3, 4};
  gz_header header{};
  header.name = reinterpret_cast<Bytef*>(name);
  header.comment = reinterpret_cast<Bytef*>(comment);
  header.extra = extra;
  header.extra_len = sizeof extra;
  header.time = 1700000000;
  header.os = 3;
  ASSERT_EQ(deflateSetHeader(&z, &header), Z_OK);
  std::string gz(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  gz.resize(z.total_out);
  deflateEnd(&z);
  ASSERT_NE(static_cast<unsigned char>(gz[3]) & 0x1c, 0) << "FEXTRA, FNAME and FCOMMENT set";
  const fs::path p = dir / "named.tar.gz";
  std::ofstream(p, std::ios::binary) << gz;
  EXPECT_EQ(read_all(p, Compression::gzip), data);
}
