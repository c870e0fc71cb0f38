// The writing half of the registry client: HEAD checks, upload starts and mounts,
// uploads that resume from what the registry holds, manifest PUTs.
#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "hpn/engine/failures.hpp"
#include "hpn/registry/client.hpp"
#include "hpn/util/log.hpp"
#include "hpn/util/sha256.hpp"
#include "internal.hpp"

namespace hpn::registry {

using std::chrono::milliseconds;

// ---- writing ------------------------------------------------------------------

namespace {

// An upload's location with the query parameter `key=value` added.
std::string with_param(const std::string& location, const std::string& key, const std::string& value) {
  return location + (location.find('?') == std::string::npos ? "?" : "&") + key + "=" + engine::url_escape(value);
}

Error write_failure(const image::Reference& ref, const std::string& what, const engine::Response& r) {
  std::string said = r.error_body.substr(0, 300);
  while (!said.empty() && (said.back() == '\n' || said.back() == '\r')) said.pop_back();
  const ErrorKind kind = engine::registry_status_kind(r.status);
  return Error(kind, ref.repository() + ": " + what + " failed: " + describe_status(r) +
                         (said.empty() ? std::string() : " (" + said + ")"));
}

}  // namespace

Result<std::optional<std::string>> Fetcher::manifest_digest(const image::Reference& ref,
                                                            const std::string& reference) {
  engine::Request req;
  req.method = "HEAD";
  req.url = "/v2/" + ref.path + "/manifests/" + reference;
  for (const auto& a : manifest_accept()) req.headers.push_back("Accept: " + a);
  req.timeout = milliseconds(60000);
  auto r = send(ref, req, {}, {}, push_scope(ref));
  if (!r) return r.error().with_context(ref.original);
  if (r->status == 404) return std::optional<std::string>{};
  if (!r->success()) return write_failure(ref, "asking for manifest " + reference, *r);
  const std::string d = r->header("docker-content-digest");
  if (d.rfind("sha256:", 0) != 0) {
    // A registry that does not say: read the manifest and hash it.
    auto m = manifest(ref, reference);
    if (!m) return m.error().kind == ErrorKind::not_found ? Result<std::optional<std::string>>(std::nullopt)
                                                            : Result<std::optional<std::string>>(m.error());
    return std::optional<std::string>(m->digest);
  }
  return std::optional<std::string>(d);
}

Result<bool> Fetcher::has_blob(const image::Reference& ref, const std::string& digest) {
  engine::Request req;
  req.method = "HEAD";
  req.url = "/v2/" + ref.path + "/blobs/" + digest;
  req.timeout = milliseconds(60000);
  auto r = send(ref, req, {}, {}, push_scope(ref));
  if (!r) return r.error().with_context("blob " + digest + " of " + ref.repository());
  if (r->status == 404) return false;
  if (!r->success()) return write_failure(ref, "asking for blob " + digest, *r);
  return true;
}

Result<std::optional<std::string>> Fetcher::start_upload(const image::Reference& ref, const std::string& digest,
                                                         const std::string& mount_from) {
  engine::Request req;
  req.method = "POST";
  req.url = "/v2/" + ref.path + "/blobs/uploads/";
  req.body = std::string();
  std::string scope = push_scope(ref);
  if (!mount_from.empty()) {
    req.query.emplace_back("mount", digest);
    req.query.emplace_back("from", mount_from);
    scope += " repository:" + mount_from + ":pull";
  }
  req.timeout = milliseconds(60000);
  // Query parameters are part of the path the attempts send.
  std::string url = req.url;
  char sep = '?';
  for (const auto& [k, v] : req.query) {
    url += sep + engine::url_escape(k) + "=" + engine::url_escape(v);
    sep = '&';
  }
  req.url = url;
  req.query.clear();
  auto r = send(ref, req, {}, {}, scope);
  if (!r) return r.error().with_context("upload to " + ref.repository());
  if (r->status == 201 && !mount_from.empty()) {
    hpn::log::get("registry").debug("{}: mounted {} from {}", ref.repository(), digest, mount_from);
    return std::optional<std::string>{};
  }
  if (r->status != 202) return write_failure(ref, "starting an upload", *r);
  std::string location = r->header("location");
  if (location.empty()) {
    return Error(ErrorKind::protocol, ref.repository() + ": the registry started an upload but gave no Location");
  }
  return std::optional<std::string>(location);
}

// One upload's state: what is sent, and the source as last opened.
struct Fetcher::Upload {
  std::string digest;                 // "" until known (a blob compressed on the fly)
  std::optional<std::uint64_t> size;  // nullopt: known at the end
  const BlobBody* open = nullptr;
  const std::function<std::string()>* digest_after = nullptr;
  engine::Source src;                 // empty until opened
  std::uint64_t pos = 0;              // bytes read from `src`
  bool ended = false;                 // `src` said it has no more
};

namespace {

// An answer to an upload's PATCH or PUT that says the registry no longer knows the
// upload in that state (distribution drops an upload whose request broke part-way
// and answers 404 BLOB_UPLOAD_INVALID or BLOB_UPLOAD_UNKNOWN): it must begin again.
bool upload_lost(const engine::Response& r) {
  return r.status == 404 || r.error_body.find("BLOB_UPLOAD_INVALID") != std::string::npos ||
         r.error_body.find("BLOB_UPLOAD_UNKNOWN") != std::string::npos;
}

}  // namespace

void Fetcher::cancel_upload(const image::Reference& ref, const std::string& location) {
  engine::Request req;
  req.method = "DELETE";
  req.url = location;
  req.timeout = milliseconds(60000);
  auto r = send(ref, req, {}, {}, push_scope(ref));
  if (!r || !r->success()) {
    hpn::log::get("registry").debug("{}: the unused upload {} was not cancelled; the registry expires it",
                                    ref.repository(), location);
  }
}

Result<std::optional<std::uint64_t>> Fetcher::upload_offset(const image::Reference& ref, std::string& location) {
  engine::Request req;
  req.url = location;
  req.timeout = milliseconds(60000);
  auto r = send(ref, req, {}, {}, push_scope(ref));
  if (!r) return r.error();
  // 400 (distribution's BLOB_UPLOAD_INVALID: a chunk broke part-way and the upload
  // was dropped), 404 (unknown upload), or anything else: start again.
  if (r->status != 204 && r->status != 200) return std::optional<std::uint64_t>{};
  if (auto l = r->header("location"); !l.empty()) location = l;
  const std::string range = r->header("range");  // "0-LAST"; "0-0" also for nothing held
  const auto dash = range.find('-');
  if (range.empty() || dash == std::string::npos) return std::optional<std::uint64_t>{0};
  std::uint64_t last = 0;
  try {
    last = std::stoull(range.substr(dash + 1));
  } catch (const std::exception&) {
    return std::optional<std::uint64_t>{};
  }
  return std::optional<std::uint64_t>{last == 0 ? 0 : last + 1};
}

Result<std::uint64_t> Fetcher::upload(const image::Reference& ref, const std::string& location, Upload& up) {
  auto& log = hpn::log::get("registry");
  const auto& o = client_->options();
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::uint64_t chunk = std::max<std::uint64_t>(o.chunk_size, 64 << 10);
  bool monolithic = up.size && *up.size <= chunk;
  std::string loc = location;
  std::uint64_t held = 0;  // bytes the registry holds of this upload
  int failures = 0;        // transient failures since the last progress
  bool committed = false;
  bool lost = false;  // the registry dropped the upload: begin again
  std::vector<char> scratch;
  const std::string what = "upload of blob " +
                           (up.digest.empty() ? std::string("(compressed on the way)") : up.digest) + " to " +
                           ref.repository();

  // Read the source up to byte `to`, opening it again when it is past that.
  auto seek = [&](std::uint64_t to) -> Status {
    if (!up.src || up.pos > to) {
      auto s = (*up.open)();
      if (!s) return s.error();
      up.src = std::move(*s);
      up.pos = 0;
      up.ended = false;
    }
    scratch.resize(256 << 10);
    while (up.pos < to) {
      auto n = up.src(std::span<char>(scratch.data(), static_cast<std::size_t>(std::min<std::uint64_t>(
                                                          scratch.size(), to - up.pos))));
      if (!n) return n.error();
      if (*n == 0) {
        return Error(ErrorKind::protocol, what + ": its bytes ended at byte " + std::to_string(up.pos) +
                                              ", before the " + std::to_string(to) + " the registry holds");
      }
      up.pos += *n;
    }
    return {};
  };
  // After a transient failure, back off and find where to go on from: done (the
  // registry holds the blob), the registry's offset in this upload, or a new one.
  auto recover = [&](Error failure) -> Status {
    for (;;) {
      if (!is_transient(failure.kind) || ++failures >= o.retry.max_attempts) return failure;
      const auto delay = util::backoff_delay(o.retry, failures, unit(rng));
      log.info("{}: {}; trying again in {} ms", what, failure.message, delay.count());
      if (auto st = pause(delay); !st) return st;
      if (!up.digest.empty()) {
        auto have = has_blob(ref, up.digest);
        if (!have) {
          failure = have.error();
          continue;
        }
        if (*have) {
          committed = true;
          return {};
        }
      }
      if (!monolithic && !lost) {
        auto at = upload_offset(ref, loc);
        if (!at) {
          failure = at.error();
          continue;
        }
        if (*at && **at <= up.pos) {
          if (**at > 0) log.info("{}: resuming at byte {} (of {} sent)", what, **at, up.pos);
          held = **at;
          return {};
        }
        log.info("{}: the registry dropped the upload after {} bytes; starting it again", what, held);
      }
      auto started = start_upload(ref);
      if (!started) {
        failure = started.error();
        continue;
      }
      loc = started->value_or(loc);
      held = 0;
      lost = false;
      return {};
    }
  };

  for (;;) {
    if (committed) return up.size ? *up.size : up.pos;
    std::optional<Error> failure;
    if (monolithic) {
      if (auto st = seek(0); !st) {
        failure = st.error();
      } else {
        engine::Request req;
        req.method = "PUT";
        req.url = with_param(loc, "digest", up.digest);
        req.upload = [&](std::span<char> buf) -> Result<std::size_t> {
          auto n = up.src(buf);
          if (n) up.pos += *n;
          return n;
        };
        req.upload_size = *up.size;
        req.content_type = "application/octet-stream";
        auto r = send(ref, req, {}, {}, push_scope(ref));
        if (!r) {
          failure = r.error();
        } else if (r->status == 201 || r->status == 204 || r->status == 200) {
          return *up.size;
        } else if (upload_lost(*r)) {
          lost = true;
          failure = Error(ErrorKind::registry_unavailable, "the registry lost the upload (" + describe_status(*r) + ")");
        } else {
          return write_failure(ref, "upload of blob " + up.digest, *r);
        }
      }
    } else if (up.size ? held == *up.size : (up.ended && up.pos == held)) {
      // Every byte is there: commit with the digest.
      if (up.digest.empty()) up.digest = (*up.digest_after)();
      engine::Request commit;
      commit.method = "PUT";
      commit.url = with_param(loc, "digest", up.digest);
      commit.body = std::string();
      commit.timeout = milliseconds(120000);
      auto c = send(ref, commit, {}, {}, push_scope(ref));
      if (!c) {
        failure = c.error();
      } else if (c->status == 201 || c->status == 204 || c->status == 200) {
        return held;
      } else if (upload_lost(*c)) {
        lost = true;
        failure = Error(ErrorKind::registry_unavailable, "the registry lost the upload (" + describe_status(*c) + ")");
      } else {
        return write_failure(ref, "commit of blob " + up.digest, *c);
      }
    } else if (auto st = seek(held); !st) {
      failure = st.error();
    } else {
      // The next chunk, from `held`.
      const std::uint64_t want = up.size ? std::min(chunk, *up.size - held) : chunk;
      std::uint64_t sent = 0;
      engine::Request req;
      req.method = "PATCH";
      req.url = loc;
      req.content_type = "application/octet-stream";
      req.upload = [&](std::span<char> buf) -> Result<std::size_t> {
        if (sent >= want || up.ended) return std::size_t{0};
        auto n = up.src(buf.first(static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), want - sent))));
        if (!n) return n;
        if (*n == 0) up.ended = true;
        sent += *n;
        up.pos += *n;
        return n;
      };
      if (up.size) {
        req.upload_size = want;
        req.headers.push_back("Content-Range: " + std::to_string(held) + "-" + std::to_string(held + want - 1));
      }
      auto r = send(ref, req, {}, {}, push_scope(ref));
      if (!r) {
        failure = r.error();
      } else if (r->status == 202 || r->status == 204) {
        held += sent;
        failures = 0;  // progress
        if (auto l = r->header("location"); !l.empty()) loc = l;
        if (!up.size && sent < want) up.ended = true;
        continue;
      } else if (upload_lost(*r)) {
        lost = true;
        failure = Error(ErrorKind::registry_unavailable, "the registry lost the upload (" + describe_status(*r) + ")");
      } else if (held == 0 && up.size) {
        // A registry that takes no chunks: the whole blob in one PUT, in a new upload.
        log.info("{}: the registry refused a chunk ({}); sending the blob whole", what, describe_status(*r));
        monolithic = true;
        auto started = start_upload(ref);
        if (!started) return started.error();
        loc = started->value_or(loc);
        continue;
      } else {
        return write_failure(ref, "uploading a blob", *r);
      }
    }
    if (failure) {
      if (auto st = recover(*failure); !st) return st.error().with_context(what);
    }
  }
}

Status Fetcher::put_blob(const image::Reference& ref, const std::string& location, const std::string& digest,
                         std::uint64_t size, const BlobBody& open) {
  Upload up;
  up.digest = digest;
  up.size = size;
  up.open = &open;
  auto r = upload(ref, location, up);
  if (!r) return r.error();
  return {};
}

Result<std::uint64_t> Fetcher::upload_blob(const image::Reference& ref, const std::string& location,
                                           const BlobBody& open, const std::function<std::string()>& digest_after) {
  Upload up;
  up.open = &open;
  up.digest_after = &digest_after;
  return upload(ref, location, up);
}

Result<std::string> Fetcher::put_manifest(const image::Reference& ref, const std::string& reference,
                                          const std::string& media_type, const std::string& body) {
  const std::string digest = "sha256:" + util::sha256_hex(body);
  engine::Request req;
  req.method = "PUT";
  req.url = "/v2/" + ref.path + "/manifests/" + reference;
  req.body = body;
  req.content_type = media_type;
  req.timeout = milliseconds(120000);
  auto r = send(ref, req, {}, {}, push_scope(ref));
  if (!r) return r.error().with_context("manifest of " + ref.repository() + ":" + reference);
  if (r->status != 201 && r->status != 200 && r->status != 204) {
    return write_failure(ref, "storing the manifest " + reference, *r);
  }
  const std::string said = r->header("docker-content-digest");
  if (!said.empty() && said != digest) {
    return Error(ErrorKind::protocol, ref.repository() + ": the registry stored the manifest as " + said +
                                          ", but its bytes hash to " + digest);
  }
  return digest;
}

}  // namespace hpn::registry
