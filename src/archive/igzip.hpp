// gzip through ISA-L's igzip: a streaming deflate that writes one gzip member, and a
// streaming inflate of one member at a time that checks its trailer. Private to
// the archive layer; the codecs in codec.hpp use them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "hpn/util/result.hpp"

namespace hpn::archive::igzip {

// One gzip member (a fixed header: mtime 0, no name), the same bytes for the same
// input and level. `level` is ISA-L's, 0 to 3.
class Deflate {
 public:
  using Output = std::function<Status(std::string_view)>;
  static Result<Deflate> open(int level, Output out);
  Deflate(Deflate&&) noexcept;
  Deflate& operator=(Deflate&&) noexcept;
  ~Deflate();
  Status write(std::string_view data);
  Status finish();

 private:
  struct Impl;
  explicit Deflate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Decompresses gzip members one after another. The caller feeds compressed bytes
// (`input`) and takes decompressed ones (`read`).
class Inflate {
 public:
  Inflate();
  Inflate(Inflate&&) noexcept;
  Inflate& operator=(Inflate&&) noexcept;
  ~Inflate();

  // The compressed bytes not yet consumed; `take` them, then `refill` appends.
  struct Step {
    std::size_t produced = 0;
    bool member_end = false;  // a member ended (trailer checked) in this step
  };
  // Decompresses from `in` (its consumed prefix is reported through `used`) into
  // `out`. An error is ISA-L's reason, in words.
  Result<Step> run(std::span<const char> in, std::size_t& used, std::span<char> out);
  // Ready for another member.
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ISA-L's level (0 to 3) for a gzip level (1 to 9; -1: `fallback`).
int level_for(int gzip_level, int fallback);

}  // namespace hpn::archive::igzip
