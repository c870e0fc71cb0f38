#include "hpn/sync/semver.hpp"

#include <algorithm>
#include <charconv>

namespace hpn::sync {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool identifier_ok(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
  });
}

std::optional<std::uint64_t> number(std::string_view s) {
  if (!all_digits(s) || s.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  std::from_chars(s.data(), s.data() + s.size(), n);
  return n;
}

std::vector<std::string_view> split(std::string_view s, char c) {
  std::vector<std::string_view> out;
  std::size_t from = 0;
  for (;;) {
    const auto at = s.find(c, from);
    out.push_back(s.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from));
    if (at == std::string_view::npos) return out;
    from = at + 1;
  }
}

// A version with possibly missing or wildcard parts, as a range names it.
struct Partial {
  Version v;
  int parts = 0;  // how many of major, minor, patch are given (not missing or x)
};

bool wildcard(std::string_view s) { return s == "x" || s == "X" || s == "*"; }

std::optional<Partial> parse_partial(std::string_view s) {
  if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) s.remove_prefix(1);
  if (const auto plus = s.find('+'); plus != std::string_view::npos) s = s.substr(0, plus);
  std::string_view pre;
  if (const auto dash = s.find('-'); dash != std::string_view::npos) {
    pre = s.substr(dash + 1);
    s = s.substr(0, dash);
  }
  Partial p;
  const auto nums = split(s, '.');
  if (nums.size() > 3) return std::nullopt;
  std::uint64_t* fields[] = {&p.v.major, &p.v.minor, &p.v.patch};
  bool wild = false;
  for (std::size_t i = 0; i < nums.size(); ++i) {
    if (wildcard(nums[i])) {
      wild = true;
      continue;
    }
    if (wild) return std::nullopt;  // 1.x.3
    auto n = number(nums[i]);
    if (!n) return std::nullopt;
    *fields[i] = *n;
    p.parts = static_cast<int>(i) + 1;
  }
  if (!pre.empty()) {
    if (p.parts < 3) return std::nullopt;
    for (auto id : split(pre, '.')) {
      if (!identifier_ok(id)) return std::nullopt;
      p.v.prerelease.emplace_back(id);
    }
  }
  return p;
}

// The version just above every version that `p` names as a prefix (1.2 -> 1.3.0).
Version bump(const Partial& p) {
  Version v;
  if (p.parts <= 1) {
    v.major = p.v.major + 1;
  } else {
    v.major = p.v.major;
    v.minor = p.v.minor + 1;
  }
  // The lowest version at that point, below its pre-releases: 1.3.0-0.
  v.prerelease = {"0"};
  return v;
}

using Op = Range::Op;
using Comparator = Range::Comparator;

Status add_comparator(std::string_view word, Range::Set& set, std::string_view whole) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorKind::invalid_argument, "semver range '" + std::string(whole) + "': " + why);
  };
  std::string_view rest = word;
  std::string op;
  for (std::string_view o : {">=", "<=", "!=", ">", "<", "=", "~>", "~", "^"}) {
    if (rest.rfind(o, 0) == 0) {
      op = std::string(o);
      rest.remove_prefix(o.size());
      break;
    }
  }
  if (rest.empty() || wildcard(rest)) {
    if (op.empty() || op == "=" || op == ">=" || op == "<=") return {};  // any
    return bad("'" + std::string(word) + "' names no version");
  }
  auto p = parse_partial(rest);
  if (!p) return bad("'" + std::string(rest) + "' is not a version");
  const Version low = p->v;
  if (op == "~" || op == "~>") {
    Partial up = *p;
    up.parts = std::min(std::max(p->parts, 2), 2);
    if (p->parts == 1) up.parts = 1;
    set.push_back({Op::ge, low});
    set.push_back({Op::lt, bump(up)});
    return {};
  }
  if (op == "^") {
    Partial up = *p;
    if (p->v.major > 0 || p->parts <= 1) {
      up.parts = 1;
      set.push_back({Op::ge, low});
      set.push_back({Op::lt, bump(up)});
    } else if (p->v.minor > 0 || p->parts == 2) {
      up.parts = 2;
      set.push_back({Op::ge, low});
      set.push_back({Op::lt, bump(up)});
    } else {
      Version high = low;
      high.prerelease = {"0"};
      high.patch += 1;
      set.push_back({Op::ge, low});
      set.push_back({Op::lt, high});
    }
    return {};
  }
  if (p->parts < 3) {
    // A partial version: a wildcard over what is missing.
    if (op.empty() || op == "=") {
      if (p->parts == 0) return {};
      set.push_back({Op::ge, low});
      set.push_back({Op::lt, bump(*p)});
    } else if (op == ">=") {
      set.push_back({Op::ge, low});
    } else if (op == "<") {
      Version v = low;
      v.prerelease = {"0"};
      set.push_back({Op::lt, v});
    } else if (op == ">") {
      set.push_back({Op::ge, bump(*p)});
    } else if (op == "<=") {
      set.push_back({Op::lt, bump(*p)});
    } else {  // !=
      return bad("'" + std::string(word) + "': != needs a whole version");
    }
    return {};
  }
  const Op o = op == ">="   ? Op::ge
               : op == "<=" ? Op::le
               : op == ">"  ? Op::gt
               : op == "<"  ? Op::lt
               : op == "!=" ? Op::ne
                            : Op::eq;
  set.push_back({o, low});
  return {};
}

bool holds(const Comparator& c, const Version& v) {
  const int k = compare(v, c.version);
  switch (c.op) {
    case Op::eq: return k == 0;
    case Op::ne: return k != 0;
    case Op::gt: return k > 0;
    case Op::ge: return k >= 0;
    case Op::lt: return k < 0;
    case Op::le: return k <= 0;
  }
  return false;
}

}  // namespace

std::string Version::text() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (std::size_t i = 0; i < prerelease.size(); ++i) s += (i == 0 ? "-" : ".") + prerelease[i];
  return s;
}

std::optional<Version> parse_version(std::string_view tag) {
  if (tag.empty()) return std::nullopt;
  std::string_view s = tag;
  if (s.front() == 'v' || s.front() == 'V') s.remove_prefix(1);
  if (s.empty() || !(s.front() >= '0' && s.front() <= '9')) return std::nullopt;
  // No wildcards in a tag.
  if (s.find_first_of("xX*") != std::string_view::npos) {
    const auto cut = s.find_first_of("-+");
    if (s.substr(0, cut).find_first_of("xX*") != std::string_view::npos) return std::nullopt;
  }
  if (const auto plus = s.find('+'); plus != std::string_view::npos) {
    for (auto id : split(s.substr(plus + 1), '.')) {
      if (!identifier_ok(id)) return std::nullopt;
    }
  }
  auto p = parse_partial(s);
  if (!p || p->parts == 0) return std::nullopt;
  // A pre-release needs the three numbers (1.2-rc1 is no version).
  return p->v;
}

int compare(const Version& a, const Version& b) {
  for (auto [x, y] : {std::pair{a.major, b.major}, std::pair{a.minor, b.minor}, std::pair{a.patch, b.patch}}) {
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.prerelease.empty() || b.prerelease.empty()) {
    if (a.prerelease.empty() == b.prerelease.empty()) return 0;
    return a.prerelease.empty() ? 1 : -1;  // a release is above its pre-releases
  }
  for (std::size_t i = 0; i < std::min(a.prerelease.size(), b.prerelease.size()); ++i) {
    const auto& x = a.prerelease[i];
    const auto& y = b.prerelease[i];
    const auto nx = number(x), ny = number(y);
    if (nx && ny) {
      if (*nx != *ny) return *nx < *ny ? -1 : 1;
    } else if (nx || ny) {
      return nx ? -1 : 1;  // numeric identifiers sort below alphanumeric ones
    } else if (x != y) {
      return x < y ? -1 : 1;
    }
  }
  if (a.prerelease.size() == b.prerelease.size()) return 0;
  return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
}

Result<Range> Range::parse(std::string_view text) {
  Range r;
  const auto bad = [&](const std::string& why) {
    return Error(ErrorKind::invalid_argument, "semver range '" + std::string(text) + "': " + why);
  };
  std::string s(text);
  if (s.find_first_not_of(" \t") == std::string::npos) return bad("it is empty (write * for any version)");
  // Sets, split on "||".
  std::size_t from = 0;
  for (;;) {
    const auto at = s.find("||", from);
    std::string set_text = s.substr(from, at == std::string::npos ? std::string::npos : at - from);
    std::replace(set_text.begin(), set_text.end(), ',', ' ');
    // Words, with an operator written apart from its version joined to it.
    std::vector<std::string> words;
    std::string cur;
    for (char c : set_text + " ") {
      if (c == ' ' || c == '\t') {
        if (!cur.empty()) words.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += c;
      }
    }
    std::vector<std::string> joined;
    for (std::size_t i = 0; i < words.size(); ++i) {
      const bool op_alone = words[i].find_first_not_of("<>=!~^") == std::string::npos && words[i] != "-";
      if (op_alone && i + 1 < words.size()) {
        joined.push_back(words[i] + words[i + 1]);
        ++i;
      } else {
        joined.push_back(words[i]);
      }
    }
    Set set;
    if (joined.size() == 3 && joined[1] == "-") {
      auto lo = parse_partial(joined[0]);
      auto hi = parse_partial(joined[2]);
      if (!lo || !hi) return bad("'" + set_text + "' is not a range of two versions");
      set.push_back({Op::ge, lo->v});
      if (hi->parts == 3) {
        set.push_back({Op::le, hi->v});
      } else if (hi->parts > 0) {
        set.push_back({Op::lt, bump(*hi)});
      }
    } else {
      for (const auto& w : joined) {
        if (w == "-") return bad("a hyphen range is 'A - B', alone in its set");
        if (auto st = add_comparator(w, set, text); !st) return st.error();
      }
    }
    r.sets_.push_back(std::move(set));
    if (at == std::string::npos) break;
    from = at + 2;
  }
  if (r.sets_.empty()) return bad("it is empty");
  return r;
}

bool Range::contains(const Version& v) const {
  for (const auto& set : sets_) {
    if (!std::all_of(set.begin(), set.end(), [&](const Comparator& c) { return holds(c, v); })) continue;
    if (!v.is_prerelease()) return true;
    // A pre-release only where the set names one of the same version.
    const bool named = std::any_of(set.begin(), set.end(), [&](const Comparator& c) {
      return c.version.is_prerelease() && c.version.prerelease != std::vector<std::string>{"0"} &&
             c.version.major == v.major && c.version.minor == v.minor && c.version.patch == v.patch;
    });
    if (named) return true;
  }
  return false;
}

}  // namespace hpn::sync
