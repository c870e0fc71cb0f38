#include "hpn/archive/blob_check.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "hpn/util/tar_header.hpp"

namespace hpn::archive {

namespace {

constexpr std::size_t k_max_pax = 64 << 10;
constexpr std::size_t k_max_index = 4 << 20;

// The digest a member's name claims, or "".
std::string claimed_digest(std::string name) {
  if (name.rfind("./", 0) == 0) name.erase(0, 2);
  if (name.rfind("blobs/sha256/", 0) == 0 && util::is_sha256_hex(std::string_view(name).substr(13))) return name.substr(13);
  if (name.size() == 69 && name.ends_with(".json") && util::is_sha256_hex(std::string_view(name).substr(0, 64))) {
    return name.substr(0, 64);
  }
  return {};
}

}  // namespace

Status BlobChecker::content_end() {
  in_index_ = false;
  if (in_pax_) {
    in_pax_ = false;
    // Only the path matters here; malformed records are the daemon's to refuse.
    util::for_each_pax_record(pax_, [&](std::string_view key, std::string_view value) {
      if (key == "path") pax_path_ = std::string(value);
    });
    pax_.clear();
    return {};
  }
  if (!hash_) return {};
  const std::string got = hash_->hex_digest();
  hash_.reset();
  if (got != expected_) {
    return Error(ErrorKind::invalid_argument,
                 "the " + what_ + " is damaged: its member " + name_ + " does not match the digest in its name (content sha256:" +
                     got.substr(0, 12) + "...); save it again");
  }
  ++checked_;
  return {};
}

Status BlobChecker::header(const TarWalker::Block& block, std::uint64_t size) {
  const char type = block[156];
  if (type == 'x') {
    in_pax_ = size <= k_max_pax;
    return {};
  }
  std::string name = pax_path_;
  pax_path_.clear();
  if (name.empty()) name = util::tar_header_name(block.data());
  if (type == '0' || type == '\0') {
    if (name == "index.json" || name == "./index.json") {
      in_index_ = size <= k_max_index;
      index_json_.clear();
    }
    expected_ = claimed_digest(name);
    if (!expected_.empty()) {
      hash_.emplace();
      name_ = name;
    }
  }
  return {};
}

Status BlobChecker::content(std::string_view bytes) {
  if (hash_) hash_->update(bytes);
  if (in_pax_) pax_.append(bytes);
  if (in_index_) index_json_.append(bytes);
  return {};
}

}  // namespace hpn::archive
