#include "hpn/archive/member_rules.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/util/tar_header.hpp"

namespace hpn::archive {
namespace {

constexpr std::size_t k_block = util::k_tar_block;
constexpr std::size_t k_max_meta = 64 << 10;
// A regular member this large may be a layer tar (a header and an end block).
constexpr std::uint64_t k_min_layer = 2 * k_block;

// The components of `name` ("./" and empty ones dropped).
std::vector<std::string_view> components(std::string_view name) {
  std::vector<std::string_view> out;
  while (!name.empty()) {
    const auto slash = name.find('/');
    const std::string_view c = name.substr(0, slash);
    if (!c.empty() && c != ".") out.push_back(c);
    if (slash == std::string_view::npos) break;
    name.remove_prefix(slash + 1);
  }
  return out;
}

// A header block: the ustar magic and a checksum that adds up.
bool is_tar_header(const char* block) {
  if (std::memcmp(block + 257, "ustar", 5) != 0) return false;
  std::uint64_t recorded = 0;
  if (!util::parse_tar_number(block + 148, 8, recorded)) return false;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < k_block; ++i) {
    sum += (i >= 148 && i < 156) ? static_cast<unsigned char>(' ') : static_cast<unsigned char>(block[i]);
  }
  return sum == recorded;
}

}  // namespace

std::string_view to_string(MemberRule rule) {
  switch (rule) {
    case MemberRule::absolute_name: return "an absolute name";
    case MemberRule::parent_component: return "a '..' component in its name";
    case MemberRule::link_leaves: return "a symbolic link that leads out of the archive";
    case MemberRule::hard_link_leaves: return "a hard link to an absolute or '..' name";
  }
  return "a forbidden name";
}

std::optional<MemberRule> check_member_name(std::string_view name) {
  if (!name.empty() && name.front() == '/') return MemberRule::absolute_name;
  const auto parts = components(name);
  if (std::find(parts.begin(), parts.end(), "..") != parts.end()) return MemberRule::parent_component;
  return std::nullopt;
}

std::optional<MemberRule> check_archive_symlink(std::string_view member, std::string_view target) {
  if (!target.empty() && target.front() == '/') return MemberRule::link_leaves;
  auto at = components(member);
  if (!at.empty()) at.pop_back();  // the link's own directory
  for (auto c : components(target)) {
    if (c != "..") {
      at.push_back(c);
    } else if (at.empty()) {
      return MemberRule::link_leaves;
    } else {
      at.pop_back();
    }
  }
  return std::nullopt;
}

TarGuard::TarGuard(std::string what, Kind kind, std::string where)
    : what_(std::move(what)), where_(std::move(where)), kind_(kind) {}
TarGuard::~TarGuard() = default;
TarGuard::TarGuard(TarGuard&&) noexcept = default;
TarGuard& TarGuard::operator=(TarGuard&&) noexcept = default;

Status TarGuard::on_member(const std::string& name, char type, const std::string& link) {
  ++members_;
  std::optional<MemberRule> broken = check_member_name(name);
  if (!broken && type == '1') {
    if (check_member_name(link)) broken = MemberRule::hard_link_leaves;
  } else if (!broken && type == '2' && kind_ == Kind::archive) {
    broken = check_archive_symlink(name, link);
  }
  if (!broken) return {};
  std::string shown = name;
  if (type == '1' || type == '2') shown += " -> " + link;
  return Error::about(ErrorKind::invalid_argument, what_,
                      where_ + ": the member " + shown + " has " + std::string(to_string(*broken)) +
                          "; hpn refuses archives whose members could be written outside where they are unpacked "
                          "(the archive was not written by a container engine, or was tampered with)");
}

Status TarGuard::header(const TarWalker::Block& block, std::uint64_t size) {
  const char type = block[156];
  if (type == 'x' || type == 'L' || type == 'K') {
    if (size > k_max_meta) {
      return Error::about(ErrorKind::invalid_argument, what_,
                          where_ + ": a long-name record of " + std::to_string(size) +
                              " bytes; no container engine writes one over 64 KiB");
    }
    meta_type_ = type;
    meta_.clear();
    return {};
  }
  if (type == 'g') return {};  // global pax records: content skipped
  std::string name = long_name_.empty() ? util::tar_header_name(block.data()) : long_name_;
  std::string link = long_link_.empty() ? util::tar_field(block.data() + 157, 100) : long_link_;
  long_name_.clear();
  long_link_.clear();
  if (auto st = on_member(name, type, link); !st) return st;
  const bool regular = type == '0' || type == '\0' || type == '7';
  if (kind_ == Kind::archive && regular && size >= k_min_layer) {
    member_ = name;
    probing_ = true;
    probe_.clear();
  }
  return {};
}

Status TarGuard::content(std::string_view piece) {
  if (meta_type_ != 0) {
    meta_.append(piece);
  } else if (probing_) {
    const std::size_t take = std::min(k_block - probe_.size(), piece.size());
    probe_.append(piece.substr(0, take));
    if (probe_.size() == k_block) {
      probing_ = false;
      if (is_tar_header(probe_.data())) {
        inner_ = std::make_unique<TarGuard>(what_, Kind::layer, where_ + ": layer " + member_);
        if (auto st = inner_->feed(probe_); !st) return st;
        return inner_->feed(piece.substr(take));
      }
    }
  } else if (inner_) {
    return inner_->feed(piece);
  }
  return {};
}

Status TarGuard::content_end() {
  if (meta_type_ == 'x') {
    util::for_each_pax_record(meta_, [&](std::string_view key, std::string_view value) {
      if (key == "path") long_name_ = std::string(value);
      if (key == "linkpath") long_link_ = std::string(value);
    });
  } else if (meta_type_ == 'L' || meta_type_ == 'K') {
    std::string v = meta_.substr(0, meta_.find('\0'));
    (meta_type_ == 'L' ? long_name_ : long_link_) = std::move(v);
  }
  if (inner_) members_ += inner_->members();
  meta_type_ = 0;
  meta_.clear();
  inner_.reset();
  probing_ = false;
  probe_.clear();
  return {};
}

Status check_archive_members(const std::filesystem::path& path) {
  auto reader = DecompressingReader::open(path);
  if (!reader) return reader.error();
  TarGuard guard(path.string());
  std::vector<char> buf(1 << 20);
  for (;;) {
    auto n = reader->read(buf);
    if (!n) return n.error();
    if (*n == 0) return {};
    if (auto st = guard.feed(std::string_view(buf.data(), *n)); !st) return st;
  }
}

}  // namespace hpn::archive
