// The names the members of an image archive, and the members of the layer tars
// inside it, may have. An archive is a file from outside: a member named
// "/etc/x" or "../../etc/x", or a link that leads out of the archive, could make
// whatever unpacks it write where it must not. hpn refuses such an archive by name
// before any of it reaches a daemon or a registry.
//
// The rules:
//   - no member name is absolute (a leading '/');
//   - no member name has a ".." component;
//   - a symbolic link of the archive itself resolves, from its own directory, to a
//     place inside the archive (a layer's symbolic links are the image's own file
//     system and may point anywhere, /bin -> usr/bin included);
//   - a hard link names another member by a name that keeps the first two rules.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hpn/archive/tar_walker.hpp"
#include "hpn/util/result.hpp"

namespace hpn::archive {

enum class MemberRule {
  absolute_name,      // the name starts with '/'
  parent_component,   // the name has a ".." component
  link_leaves,        // a symbolic link resolves outside the archive
  hard_link_leaves,   // a hard link names a member by an absolute or ".." name
};

// What the rule forbids, in a few words ("an absolute name").
std::string_view to_string(MemberRule rule);

// The rule `name` breaks, if any.
std::optional<MemberRule> check_member_name(std::string_view name);
// The rule a symbolic link `member` -> `target` of an image archive breaks, if any.
std::optional<MemberRule> check_archive_symlink(std::string_view member, std::string_view target);

// Checks a tar as it streams: every member's name and link against the rules, and
// (with `layers`) the members of each member that is itself an uncompressed tar
// (a layer), with the rules of a layer. Nothing is buffered but a header block and
// the pax or GNU long-name records (bounded). `what` names the archive in errors.
class TarGuard : private TarWalker::Events {
 public:
  enum class Kind { archive, layer };
  // `what` names the archive in errors (their subject); `where` is said after it
  // (": layer L" for a layer inside it).
  explicit TarGuard(std::string what, Kind kind = Kind::archive, std::string where = {});
  ~TarGuard() override;
  TarGuard(TarGuard&&) noexcept;
  TarGuard& operator=(TarGuard&&) noexcept;

  // The next bytes of the tar. An error names the member and the rule it broke;
  // feed nothing after an error.
  Status feed(std::string_view bytes) { return walker_.feed(bytes, *this); }

  std::uint64_t members() const { return members_; }  // members checked so far (layers' included)

 private:
  Status header(const TarWalker::Block& block, std::uint64_t size) override;
  Status content(std::string_view bytes) override;
  Status content_end() override;
  Status on_member(const std::string& name, char type, const std::string& link);

  std::string what_;
  std::string where_;
  Kind kind_;
  TarWalker walker_;
  char meta_type_ = 0;          // 'x', 'L' or 'K' while its content is read, else 0
  std::string meta_;            // that content (bounded)
  std::string long_name_, long_link_;  // from a preceding pax or GNU record
  std::string member_;          // the regular member whose content passes now
  std::unique_ptr<TarGuard> inner_;   // its content, when it may be a layer tar
  std::string probe_;           // its first block, until it is known to be a tar
  bool probing_ = false;
  std::uint64_t members_ = 0;
};

// Reads the archive at `path` (any compression) through a TarGuard: the error of
// the first member that breaks a rule, naming the file.
Status check_archive_members(const std::filesystem::path& path);

}  // namespace hpn::archive
