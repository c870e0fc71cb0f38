// What earlier runs learned about blobs, kept in one SQLite file that runs share
// (write-ahead log, so overlapping runs read and write it at once):
//   - which compressed blob (digest, size) a plain layer (its diff ID) became with
//     a codec and level, as hpn computed it itself;
//   - which repositories of which registry were seen holding a blob.
// Every entry is a hint. A destination confirms it (HEAD, a mount) before a
// manifest names the blob; a caller that finds an entry wrong forgets it and does
// the work. The file is bounded: the entries used longest ago go first.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hpn/registry/manifest.hpp"

struct sqlite3;

namespace hpn::registry {

class KnownBlobs {
 public:
  // Opens (creating) the file. A file that is not such a cache, or is damaged or
  // unreadable, is replaced by a new one (rebuilt() says why); an error says what
  // is wrong when even that fails. `max_entries` bounds each kind of entry.
  static Result<std::shared_ptr<KnownBlobs>> open(const std::filesystem::path& file, std::uint64_t max_entries);
  ~KnownBlobs();
  KnownBlobs(const KnownBlobs&) = delete;
  KnownBlobs& operator=(const KnownBlobs&) = delete;

  // The blob `diff_id` became, compressed as `codec` ("gzip", "zstd") at `level`.
  std::optional<Descriptor> compressed(const std::string& diff_id, const std::string& codec, int level);
  void record_compressed(const std::string& diff_id, const std::string& codec, int level, const Descriptor& blob);
  void forget_compressed(const std::string& diff_id, const std::string& codec, int level);

  // Repositories of `host` seen holding `digest`, the most recently seen first.
  std::vector<std::string> holders(const std::string& host, const std::string& digest);
  void record_holder(const std::string& host, const std::string& digest, const std::string& repo);
  void forget_holder(const std::string& host, const std::string& digest, const std::string& repo);

  // Drops the entries used longest ago beyond the bound (done when the last
  // user lets go, too).
  void trim();

  const std::filesystem::path& file() const { return file_; }
  // Why the file was replaced by a new one when it was opened ("" when it was not).
  const std::string& rebuilt() const { return rebuilt_; }

 private:
  KnownBlobs(sqlite3* db, std::filesystem::path file, std::uint64_t max_entries);
  void failed(const char* what);

  std::mutex mu_;
  sqlite3* db_;
  std::filesystem::path file_;
  std::uint64_t max_entries_;
  std::string rebuilt_;
  std::atomic<bool> broken_{false};  // a failure was reported: the rest of the run goes without
};

}  // namespace hpn::registry
