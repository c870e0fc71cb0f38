#include "hpn/sync/rules.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "hpn/registry/referrers.hpp"

namespace hpn::sync {

namespace {

constexpr std::string_view k_placeholders[] = {"{registry}", "{repo}", "{name}", "{tag}"};

struct Where {
  const std::string& path;
  Error at(const YAML::Node& n, const std::string& what) const {
    const auto m = n.Mark();
    return Error(ErrorKind::invalid_argument,
                 path + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + what);
  }
};

Result<std::string> scalar(const Where& w, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) return w.at(n, key + " must be a string");
  return n.as<std::string>();
}

Result<std::vector<std::string>> strings(const Where& w, const YAML::Node& n, const std::string& key) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.as<std::string>());
    return out;
  }
  if (!n.IsSequence()) return w.at(n, key + " must be a list of strings");
  for (const auto& e : n) {
    if (!e.IsScalar()) return w.at(e, key + " must be a list of strings");
    out.push_back(e.as<std::string>());
  }
  return out;
}

Result<std::regex> regex_of(const Where& w, const YAML::Node& n, const std::string& key) {
  try {
    return std::regex(n.as<std::string>(), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return w.at(n, key + " '" + n.as<std::string>() + "' is not a regular expression (" + e.what() + ")");
  }
}

Result<TagRule> tag_rule(const Where& w, const YAML::Node& n) {
  TagRule r;
  if (n.IsScalar()) {
    if (n.as<std::string>() == "all") return r;
    r.kind = TagRule::Kind::list;
    r.list.push_back(n.as<std::string>());
    return r;
  }
  if (n.IsSequence()) {
    auto list = strings(w, n, "tags");
    if (!list) return list.error();
    if (list->empty()) return w.at(n, "tags lists no tag");
    r.kind = TagRule::Kind::list;
    r.list = std::move(*list);
    return r;
  }
  if (!n.IsMap()) return w.at(n, "tags must be all, a list of tags, or {regex, exclude, semver, newest}");
  r.kind = TagRule::Kind::filter;
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "regex") {
      if (!v.IsScalar()) return w.at(v, "tags.regex must be a string");
      auto re = regex_of(w, v, "tags.regex");
      if (!re) return re.error();
      r.regex = std::move(*re);
    } else if (key == "exclude") {
      if (v.IsScalar()) {
        auto re = regex_of(w, v, "tags.exclude");
        if (!re) return re.error();
        r.exclude.push_back(std::move(*re));
      } else if (v.IsSequence()) {
        for (const auto& e : v) {
          if (!e.IsScalar()) return w.at(e, "tags.exclude must be a list of regular expressions");
          auto re = regex_of(w, e, "tags.exclude");
          if (!re) return re.error();
          r.exclude.push_back(std::move(*re));
        }
      } else {
        return w.at(v, "tags.exclude must be a regular expression or a list of them");
      }
    } else if (key == "semver") {
      if (!v.IsScalar()) return w.at(v, "tags.semver must be a range such as \">=1.2 <2\"");
      auto range = Range::parse(v.as<std::string>());
      if (!range) return w.at(v, range.error().message);
      r.semver = std::move(*range);
    } else if (key == "newest") {
      std::size_t n_newest = 0;
      const std::string s = v.IsScalar() ? v.as<std::string>() : "";
      if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          (n_newest = std::stoul(s)) == 0) {
        return w.at(v, "tags.newest must be a whole number above 0");
      }
      r.newest = n_newest;
    } else {
      return w.at(kv.first, "unknown key tags." + key + " (regex, exclude, semver, newest)");
    }
  }
  return r;
}

Result<std::vector<std::string>> platforms_of(const Where& w, const YAML::Node& n) {
  if (n.IsScalar() && n.as<std::string>() == "all") return std::vector<std::string>{};
  auto list = strings(w, n, "platforms");
  if (!list) return list.error();
  if (list->empty()) return w.at(n, "platforms lists none; write all for every platform");
  for (const auto& p : *list) {
    const auto slash = p.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == p.size() || std::count(p.begin(), p.end(), '/') > 2) {
      return w.at(n, "platform '" + p + "' is not os/arch[/variant]");
    }
  }
  return list;
}

Status check_destination(const Where& w, const YAML::Node& n, const std::string& to) {
  for (std::size_t at = to.find('{'); at != std::string::npos; at = to.find('{', at + 1)) {
    const bool known = std::any_of(std::begin(k_placeholders), std::end(k_placeholders),
                                   [&](std::string_view p) { return to.compare(at, p.size(), p) == 0; });
    if (!known)
      return w.at(n, "destination '" + to + "' has an unknown placeholder ({registry}, {repo}, {name}, {tag})");
  }
  if (to.find('{') != std::string::npos && to.rfind("registry:", 0) != 0) {
    return w.at(n, "destination '" + to + "': placeholders name paths in a registry (registry:HOST/PATH)");
  }
  return {};
}

// The settings an entry starts from.
struct Defaults {
  std::optional<std::string> to;
  std::vector<std::string> platforms;
  TagRule tags;
  bool tags_given = false;
};

}  // namespace

Result<SyncFile> parse_sync_file(const std::string& text, const std::string& path) {
  const Where w{path};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Error(ErrorKind::invalid_argument, path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                                  std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) return Error(ErrorKind::invalid_argument, path + ": not a map with a sync list");
  SyncFile file;
  file.path = path;
  Defaults d;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key != "defaults" && key != "sync") return w.at(kv.first, "unknown key " + key + " (defaults, sync)");
  }
  if (const auto dn = root["defaults"]) {
    if (!dn.IsMap()) return w.at(dn, "defaults must be a map");
    for (const auto& kv : dn) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "to") {
        auto to = scalar(w, v, "to");
        if (!to) return to.error();
        if (auto st = check_destination(w, v, *to); !st) return st.error();
        d.to = *to;
      } else if (key == "platforms") {
        auto p = platforms_of(w, v);
        if (!p) return p.error();
        d.platforms = *p;
      } else if (key == "tags") {
        auto t = tag_rule(w, v);
        if (!t) return t.error();
        d.tags = std::move(*t);
        d.tags_given = true;
      } else if (key == "tag_page_size") {
        const std::string s = v.IsScalar() ? v.as<std::string>() : "";
        if (s.empty() || s.size() > 5 ||
            !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) || std::stoul(s) == 0) {
          return w.at(v, "tag_page_size must be a whole number from 1 to 99999");
        }
        file.tag_page_size = std::stoul(s);
      } else {
        return w.at(kv.first, "unknown key defaults." + key + " (to, platforms, tags, tag_page_size)");
      }
    }
  }
  const auto list = root["sync"];
  if (!list) return Error(ErrorKind::invalid_argument, path + ": it has no sync list");
  if (!list.IsSequence() || list.size() == 0) return w.at(list, "sync must be a list of entries, each with from:");
  for (const auto& n : list) {
    if (!n.IsMap()) return w.at(n, "an entry of sync must be a map with from:");
    SyncEntry e;
    e.line = n.Mark().line + 1;
    e.tags = d.tags;
    e.platforms = d.platforms;
    bool tags_given = d.tags_given;
    std::optional<std::string> to = d.to;
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "from") {
        auto from = scalar(w, v, "from");
        if (!from) return from.error();
        auto ref = image::parse_reference(*from);
        if (!ref) return w.at(v, "'" + *from + "' is not a repository: " + ref.error().message);
        if (ref->tag_given || !ref->digest.empty()) {
          return w.at(v, "'" + *from + "' names a tag or a digest; name the repository, and its tags under tags:");
        }
        e.from = *from;
        e.repository = *ref;
      } else if (key == "tags") {
        auto t = tag_rule(w, v);
        if (!t) return t.error();
        e.tags = std::move(*t);
        tags_given = true;
      } else if (key == "platforms") {
        auto p = platforms_of(w, v);
        if (!p) return p.error();
        e.platforms = *p;
      } else if (key == "to") {
        auto t = scalar(w, v, "to");
        if (!t) return t.error();
        if (auto st = check_destination(w, v, *t); !st) return st.error();
        to = *t;
      } else {
        return w.at(kv.first, "unknown key " + key + " (from, tags, platforms, to)");
      }
    }
    if (e.from.empty()) return w.at(n, "the entry names no repository (from:)");
    if (!tags_given) return w.at(n, "the entry names no tags (tags: all, a list, or a filter), nor do the defaults");
    if (!to) return w.at(n, "the entry names no destination (to:), nor do the defaults");
    e.to = *to;
    file.entries.push_back(std::move(e));
  }
  return file;
}

Result<SyncFile> read_sync_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorKind::invalid_argument, path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_sync_file(text.str(), path);
}

std::vector<std::string> select_tags(const TagRule& rule, const std::vector<std::string>& listed) {
  if (rule.kind == TagRule::Kind::list) return rule.list;
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& t : listed) {
    if (registry::is_referrer_tag(t) || !seen.insert(t).second) continue;
    if (rule.kind == TagRule::Kind::filter) {
      if (rule.regex && !std::regex_match(t, *rule.regex)) continue;
      if (std::any_of(rule.exclude.begin(), rule.exclude.end(),
                      [&](const std::regex& re) { return std::regex_match(t, re); })) {
        continue;
      }
      if (rule.semver || rule.newest > 0) {
        auto v = parse_version(t);
        if (!v) continue;
        if (rule.semver && !rule.semver->contains(*v)) continue;
      }
    }
    out.push_back(t);
  }
  if (rule.kind == TagRule::Kind::filter && rule.newest > 0) {
    std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
      return compare(*parse_version(a), *parse_version(b)) > 0;
    });
    if (out.size() > rule.newest) out.resize(rule.newest);
  }
  return out;
}

}  // namespace hpn::sync
