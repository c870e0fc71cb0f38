#include "hpn/archive/blob_check.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "hpn/util/tar_header.hpp"

namespace hpn::archive {

namespace {

constexpr std::size_t k_block = 512;
constexpr std::size_t k_max_pax = 64 << 10;

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

Status BlobChecker::end_member() {
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

Status BlobChecker::on_header() {
  if (std::all_of(block_.begin(), block_.end(), [](char c) { return c == '\0'; })) {
    ended_ = true;  // end of archive (or padding after it): nothing more to check
    return {};
  }
  std::uint64_t size = 0;
  if (!util::parse_tar_number(block_.data() + 124, 12, size)) {
    // Not a tar header: the daemon rejects the stream; nothing here to verify.
    ended_ = true;
    return {};
  }
  const char type = block_[156];
  content_left_ = size;
  padding_left_ = (k_block - size % k_block) % k_block;
  if (type == 'x') {
    in_pax_ = size <= k_max_pax;
    return {};
  }
  std::string name = pax_path_;
  pax_path_.clear();
  if (name.empty()) name = util::tar_header_name(block_.data());
  if (type == '0' || type == '\0') {
    expected_ = claimed_digest(name);
    if (!expected_.empty()) {
      hash_.emplace();
      name_ = name;
    }
  }
  if (size == 0) return end_member();
  return {};
}

Status BlobChecker::feed(std::string_view bytes) {
  while (!bytes.empty() && !ended_) {
    if (content_left_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(content_left_, bytes.size()));
      if (hash_) hash_->update(bytes.substr(0, n));
      if (in_pax_) pax_.append(bytes.substr(0, n));
      content_left_ -= n;
      bytes.remove_prefix(n);
      if (content_left_ == 0) {
        if (auto st = end_member(); !st) return st;
      }
      continue;
    }
    if (padding_left_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(padding_left_, bytes.size()));
      padding_left_ -= n;
      bytes.remove_prefix(n);
      continue;
    }
    const std::size_t n = std::min(k_block - block_fill_, bytes.size());
    std::memcpy(block_.data() + block_fill_, bytes.data(), n);
    block_fill_ += n;
    bytes.remove_prefix(n);
    if (block_fill_ == k_block) {
      block_fill_ = 0;
      if (auto st = on_header(); !st) return st;
    }
  }
  return {};
}

}  // namespace hpn::archive
