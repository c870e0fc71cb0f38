#include "hpn/image/reference.hpp"

#include <algorithm>
#include <cctype>

namespace hpn::image {
namespace {

constexpr std::size_t k_max_name = 255;
constexpr std::size_t k_max_tag = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
bool valid_path_component(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_lower_alnum(s[i])) {
      ++i;
      continue;
    }
    // a separator run
    std::size_t j = i;
    while (j < s.size() && !is_lower_alnum(s[j])) ++j;
    std::string_view sep = s.substr(i, j - i);
    const bool ok = sep == "." || sep == "_" || sep == "__" ||
                    std::all_of(sep.begin(), sep.end(), [](char c) { return c == '-'; });
    if (!ok) return false;
    i = j;
  }
  return true;
}

// domain-component(.domain-component)*(:port)?  domain-component: [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?
bool valid_domain(std::string_view d) {
  auto colon = d.rfind(':');
  std::string_view host = d;
  if (colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    host = d.substr(0, colon);
  }
  if (host.empty()) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    std::string_view comp = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (comp.empty() || !is_alnum(comp.front()) || !is_alnum(comp.back())) return false;
    if (!std::all_of(comp.begin(), comp.end(), [](char c) { return is_alnum(c) || c == '-'; })) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// [\w][\w.-]{0,127}
bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > k_max_tag) return false;
  auto word = [](char c) { return is_alnum(c) || c == '_'; };
  if (!word(t.front())) return false;
  return std::all_of(t.begin(), t.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

// algo:hex{32,}; algo [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*
bool valid_digest(std::string_view d) {
  auto colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view algo = d.substr(0, colon);
  std::string_view hex = d.substr(colon + 1);
  if (!std::isalpha(static_cast<unsigned char>(algo.front()))) return false;
  for (std::size_t i = 0; i < algo.size(); ++i) {
    char c = algo[i];
    if (is_alnum(c)) continue;
    if ((c == '-' || c == '_' || c == '+' || c == '.') && i + 1 < algo.size() &&
        std::isalpha(static_cast<unsigned char>(algo[i + 1]))) {
      continue;
    }
    return false;
  }
  if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), is_hex)) return false;
  if (algo == "sha256" && hex.size() != 64) return false;
  return true;
}

Error invalid(std::string_view text, const std::string& why) {
  return {ErrorKind::invalid_argument, "invalid image reference '" + std::string(text) + "': " + why};
}

bool is_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

}  // namespace

std::string Reference::repository() const { return domain + "/" + path; }

std::string Reference::canonical() const {
  std::string out = repository();
  if (tag_given || digest.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

bool is_docker_hub(std::string_view host) {
  return host == k_docker_hub || host == "index.docker.io" || host == "registry-1.docker.io";
}

std::string registry_api_host(std::string_view domain) {
  return domain == k_docker_hub ? "registry-1.docker.io" : std::string(domain);
}

std::string Reference::familiar_repository() const {
  if (domain == k_docker_hub) {
    return path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos ? path.substr(8) : path;
  }
  return repository();
}

std::string Reference::familiar() const {
  std::string repo = familiar_repository();
  if (tag_given || digest.empty()) repo += ":" + tag;
  if (!digest.empty()) repo += "@" + digest;
  return repo;
}

std::string Reference::name() const {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Reference::project() const {
  auto last = path.rfind('/');
  if (last == std::string::npos) return "library";
  auto prev = path.rfind('/', last - 1);
  return path.substr(prev == std::string::npos ? 0 : prev + 1,
                     last - (prev == std::string::npos ? 0 : prev + 1));
}

std::string Reference::tag_or_digest() const {
  if (tag_given) return tag;
  if (!digest.empty()) return digest;
  return tag;
}

Result<Reference> parse_reference(std::string_view text) {
  if (text.empty()) return invalid(text, "empty");
  if (!is_printable(text)) {
    return Error(ErrorKind::invalid_argument,
                 "invalid image reference: contains spaces, control or non-ASCII characters");
  }
  Reference ref;
  ref.original = std::string(text);
  std::string_view rest = text;

  if (auto at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (!valid_digest(digest)) {
      return invalid(text, "bad digest '" + std::string(digest) + "' (want sha256:<64 hex digits>)");
    }
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!valid_tag(tag)) {
      return invalid(text, "bad tag '" + std::string(tag) +
                               "' (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')");
    }
    ref.tag = std::string(tag);
    ref.tag_given = true;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return invalid(text, "missing repository name");
  if (rest.size() > k_max_name) return invalid(text, "repository name longer than 255 characters");

  std::string_view remainder = rest;
  auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, first_slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      if (!valid_domain(first)) return invalid(text, "bad registry host '" + std::string(first) + "'");
      ref.domain = std::string(first);
      remainder = rest.substr(first_slash + 1);
    }
  }
  if (ref.domain.empty() || is_docker_hub(ref.domain)) ref.domain = std::string(k_docker_hub);
  if (remainder.empty()) return invalid(text, "missing repository name after the registry");
  std::size_t start = 0;
  while (true) {
    auto slash = remainder.find('/', start);
    std::string_view comp = remainder.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_path_component(comp)) {
      const bool upper = std::any_of(comp.begin(), comp.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      if (upper) return invalid(text, "repository name must be lowercase");
      if (comp.empty()) return invalid(text, "empty path component");
      if (comp.find(':') != std::string_view::npos) {
        return invalid(text, "':' is only allowed in the registry host and before the tag");
      }
      return invalid(text, "bad path component '" + std::string(comp) +
                               "' (lowercase letters and digits, separated by '.', '_', '__' or '-')");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  ref.path = std::string(remainder);
  if (ref.domain == k_docker_hub && ref.path.find('/') == std::string::npos) {
    ref.path = "library/" + ref.path;
  }
  // The limit holds for the normalised name too, so that every accepted reference
  // can be written out and parsed again (found by fuzz/fuzz_reference).
  if (ref.repository().size() > k_max_name) {
    return invalid(text, "repository name longer than 255 characters once normalised (" + ref.repository().substr(0, 40) +
                             "...)");
  }
  if (!ref.tag_given) ref.tag = "latest";
  return ref;
}

std::string archive_stem(std::string_view original) {
  std::string out(original);
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '/' || c == ':' || c == '@'; }, '_');
  return out;
}

}  // namespace hpn::image
