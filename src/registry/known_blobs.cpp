#include "hpn/registry/known_blobs.hpp"

#include <sqlite3.h>

#include <ctime>
#include <system_error>

#include "hpn/util/log.hpp"

namespace hpn::registry {

namespace {

constexpr const char* k_schema = R"(
CREATE TABLE IF NOT EXISTS compressed (
  diff_id TEXT NOT NULL, codec TEXT NOT NULL, level INTEGER NOT NULL,
  digest TEXT NOT NULL, size INTEGER NOT NULL, media_type TEXT NOT NULL, used INTEGER NOT NULL,
  PRIMARY KEY (diff_id, codec, level));
CREATE INDEX IF NOT EXISTS compressed_used ON compressed (used);
CREATE TABLE IF NOT EXISTS holders (
  host TEXT NOT NULL, digest TEXT NOT NULL, repo TEXT NOT NULL, used INTEGER NOT NULL,
  PRIMARY KEY (host, digest, repo));
CREATE INDEX IF NOT EXISTS holders_used ON holders (used);
)";

// One prepared statement, finalised when it goes.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { ok_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) == SQLITE_OK; }
  ~Statement() { sqlite3_finalize(s_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return ok_; }
  Statement& bind(int i, const std::string& v) {
    ok_ = ok_ && sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) == SQLITE_OK;
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    ok_ = ok_ && sqlite3_bind_int64(s_, i, v) == SQLITE_OK;
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return ok_ ? sqlite3_step(s_) : SQLITE_ERROR; }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(s_, col);
    return p != nullptr ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
                        : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  sqlite3_stmt* s_ = nullptr;
  bool ok_ = false;
};

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

namespace {

// The file opened and set up; nullptr and `why` when it cannot be used.
sqlite3* open_file(const std::filesystem::path& file, std::string& why, int& code) {
  sqlite3* db = nullptr;
  code = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (code == SQLITE_OK) {
    // Overlapping runs wait for each other's writes rather than fail.
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    const std::string setup = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") + k_schema;
    code = sqlite3_exec(db, setup.c_str(), nullptr, nullptr, &err);
    if (code == SQLITE_OK) return db;
    why = err != nullptr ? err : sqlite3_errstr(code);
    sqlite3_free(err);
  } else {
    why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  }
  sqlite3_close(db);
  return nullptr;
}

}  // namespace

Result<std::shared_ptr<KnownBlobs>> KnownBlobs::open(const std::filesystem::path& file, std::uint64_t max_entries) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) {
    return Error::about(ErrorKind::io, file.parent_path().string(), "cannot be created (" + ec.message() + ")");
  }
  std::string why;
  int code = SQLITE_OK;
  sqlite3* db = open_file(file, why, code);
  std::string rebuilt;
  if (db == nullptr && (code & 0xff) != SQLITE_BUSY && (code & 0xff) != SQLITE_LOCKED) {
    // Not a database, damaged, or unreadable: what it held are hints, so it goes
    // and a new one takes its place.
    rebuilt = why;
    for (const char* tail : {"", "-wal", "-shm"}) std::filesystem::remove(file.string() + tail, ec);
    db = open_file(file, why, code);
  }
  if (db == nullptr) {
    return Error::about(ErrorKind::io, file.string(), "cannot be used (" + why + ")");
  }
  auto known = std::shared_ptr<KnownBlobs>(new KnownBlobs(db, file, max_entries));
  known->rebuilt_ = rebuilt;
  return known;
}

KnownBlobs::KnownBlobs(sqlite3* db, std::filesystem::path file, std::uint64_t max_entries)
    : db_(db), file_(std::move(file)), max_entries_(max_entries) {}

KnownBlobs::~KnownBlobs() {
  trim();
  sqlite3_close(db_);
}

void KnownBlobs::failed(const char* what) {
  if (!broken_.exchange(true)) {
    hpn::log::get("registry").warn("the blob cache {}: {} failed ({}); going on without it", file_.string(), what,
                                   sqlite3_errmsg(db_));
  }
}

std::optional<Descriptor> KnownBlobs::compressed(const std::string& diff_id, const std::string& codec, int level) {
  if (broken_) return std::nullopt;
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT digest, size, media_type FROM compressed WHERE diff_id = ?1 AND codec = ?2 AND level = ?3");
  q.bind(1, diff_id).bind(2, codec).bind(3, std::int64_t{level});
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) {
    failed("a lookup");
    return std::nullopt;
  }
  Descriptor d{.media_type = q.text(2), .digest = q.text(0), .size = static_cast<std::uint64_t>(q.integer(1))};
  Statement touch(db_, "UPDATE compressed SET used = ?4 WHERE diff_id = ?1 AND codec = ?2 AND level = ?3");
  touch.bind(1, diff_id).bind(2, codec).bind(3, std::int64_t{level}).bind(4, now());
  if (touch.step() != SQLITE_DONE) failed("an update");
  return d;
}

void KnownBlobs::record_compressed(const std::string& diff_id, const std::string& codec, int level,
                                   const Descriptor& blob) {
  if (broken_) return;
  std::lock_guard lock(mu_);
  Statement q(db_,
              "INSERT OR REPLACE INTO compressed (diff_id, codec, level, digest, size, media_type, used) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  q.bind(1, diff_id).bind(2, codec).bind(3, std::int64_t{level}).bind(4, blob.digest);
  q.bind(5, static_cast<std::int64_t>(blob.size)).bind(6, blob.media_type).bind(7, now());
  if (q.step() != SQLITE_DONE) failed("a write");
}

void KnownBlobs::forget_compressed(const std::string& diff_id, const std::string& codec, int level) {
  if (broken_) return;
  std::lock_guard lock(mu_);
  Statement q(db_, "DELETE FROM compressed WHERE diff_id = ?1 AND codec = ?2 AND level = ?3");
  q.bind(1, diff_id).bind(2, codec).bind(3, std::int64_t{level});
  if (q.step() != SQLITE_DONE) failed("a write");
}

std::vector<std::string> KnownBlobs::holders(const std::string& host, const std::string& digest) {
  std::vector<std::string> out;
  if (broken_) return out;
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT repo FROM holders WHERE host = ?1 AND digest = ?2 ORDER BY used DESC LIMIT 8");
  q.bind(1, host).bind(2, digest);
  int rc = 0;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(q.text(0));
  if (rc != SQLITE_DONE) failed("a lookup");
  return out;
}

void KnownBlobs::record_holder(const std::string& host, const std::string& digest, const std::string& repo) {
  if (broken_) return;
  std::lock_guard lock(mu_);
  Statement q(db_, "INSERT OR REPLACE INTO holders (host, digest, repo, used) VALUES (?1, ?2, ?3, ?4)");
  q.bind(1, host).bind(2, digest).bind(3, repo).bind(4, now());
  if (q.step() != SQLITE_DONE) failed("a write");
}

void KnownBlobs::forget_holder(const std::string& host, const std::string& digest, const std::string& repo) {
  if (broken_) return;
  std::lock_guard lock(mu_);
  Statement q(db_, "DELETE FROM holders WHERE host = ?1 AND digest = ?2 AND repo = ?3");
  q.bind(1, host).bind(2, digest).bind(3, repo);
  if (q.step() != SQLITE_DONE) failed("a write");
}

void KnownBlobs::trim() {
  if (broken_) return;
  std::lock_guard lock(mu_);
  for (const char* table : {"compressed", "holders"}) {
    const std::string sql = std::string("DELETE FROM ") + table + " WHERE rowid IN (SELECT rowid FROM " + table +
                            " ORDER BY used DESC LIMIT -1 OFFSET ?1)";
    Statement q(db_, sql.c_str());
    q.bind(1, static_cast<std::int64_t>(max_entries_));
    if (q.step() != SQLITE_DONE) {
      failed("trimming");
      return;
    }
  }
}

}  // namespace hpn::registry
