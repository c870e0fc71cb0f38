// Versions and version ranges for picking tags, with the rules of npm and
// Masterminds semver: a tag is a version when it reads as [v]MAJOR[.MINOR[.PATCH]]
// [-PRERELEASE][+BUILD] (missing parts are 0); a range is comparators joined by
// spaces or commas (all must hold), sets joined by "||" (any may). Comparators:
// =, !=, >, >=, <, <= with a version; ~V (patch updates), ^V (no change of the
// first non-zero part); a bare V with missing parts or x/* is a wildcard (1.2 is
// >=1.2.0 <1.3.0); "A - B" is >=A <=B. A pre-release version matches only a set
// with a comparator naming a pre-release of the same MAJOR.MINOR.PATCH.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hpn/util/result.hpp"

namespace hpn::sync {

struct Version {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers
  bool is_prerelease() const { return !prerelease.empty(); }
  std::string text() const;
};

// nullopt when `tag` is not a version.
std::optional<Version> parse_version(std::string_view tag);

// <0, 0 or >0 as a is below, equal to or above b (build metadata ignored).
int compare(const Version& a, const Version& b);

class Range {
 public:
  // Fails with the range's text and what is wrong with it.
  static Result<Range> parse(std::string_view text);
  bool contains(const Version& v) const;

  enum class Op { eq, ne, gt, ge, lt, le };
  struct Comparator {
    Op op = Op::eq;
    Version version;
  };
  using Set = std::vector<Comparator>;  // empty: any version

 private:
  std::vector<Set> sets_;
};

}  // namespace hpn::sync
