// Streaming compression and decompression of image tarballs: gzip through ISA-L,
// the other codecs through libarchive's filters (raw format: the bytes of one
// stream, no extra archive framing).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hpn/util/file.hpp"
#include "hpn/util/result.hpp"

namespace hpn::archive {

enum class Compression { none, gzip, zstd, xz, bzip2 };

std::string_view to_string(Compression c);
// "none", "gzip", "zstd", "xz" (what --compress accepts).
std::optional<Compression> parse_compression(std::string_view name);
// ".tar", ".tar.gz", ".tar.zst", ".tar.xz", ".tar.bz2"
std::string_view file_suffix(Compression c);
// Recognise compression from the first bytes of a file (magic numbers), not its name.
Compression detect_compression(std::string_view head);

inline constexpr int k_default_level = -1;  // the codec's own default

// Compresses a byte stream and hands compressed bytes to `out` as they are produced.
// gzip goes through ISA-L (igzip), whose levels are 0 to 3: gzip level 1 is ISA-L's
// 1, 2 to 5 its 2, 6 to 9 (and the default, 6) its 3. The other codecs go through
// libarchive's filters.
class Compressor {
 public:
  using Output = std::function<Status(std::string_view)>;
  // `level` -1 = codec default; `threads` applies to zstd and xz: 0 = one per core,
  // 1 = on the calling thread.
  static Result<Compressor> open(Compression c, int level, int threads, Output out);

  Compressor(Compressor&&) noexcept;
  Compressor& operator=(Compressor&&) noexcept;
  ~Compressor();

  Status write(std::string_view data);
  // Flush the codec's trailer. Must be called once after the last write.
  Status finish();

 private:
  struct Impl;
  explicit Compressor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// gzip for layers compressed on their way to a registry, through ISA-L (igzip) at
// its level 1 unless told otherwise (gzip levels map to ISA-L's as for Compressor).
// The output is one gzip member (mtime 0), the same bytes for the same input and
// level.
class LayerGzip {
 public:
  using Output = std::function<Status(std::string_view)>;
  static Result<LayerGzip> open(int level, Output out);  // level -1: 1 (fastest)
  LayerGzip(LayerGzip&&) noexcept;
  LayerGzip& operator=(LayerGzip&&) noexcept;
  ~LayerGzip();
  Status write(std::string_view data);
  Status finish();

 private:
  struct Impl;
  explicit LayerGzip(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a (possibly compressed) archive file and yields the decompressed tar bytes.
class DecompressingReader {
 public:
  static Result<DecompressingReader> open(const std::filesystem::path& path);

  DecompressingReader(DecompressingReader&&) noexcept;
  DecompressingReader& operator=(DecompressingReader&&) noexcept;
  ~DecompressingReader();

  // Bytes of the tar into `buf`; 0 at the end. Corrupt data is an error naming the file.
  Result<std::size_t> read(std::span<char> buf);
  Compression compression() const;
  std::uint64_t file_size() const;
  // Bytes of the file consumed so far (compressed bytes for compressed files).
  std::uint64_t bytes_consumed() const;

 private:
  struct Impl;
  explicit DecompressingReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpn::archive
