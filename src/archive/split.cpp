#include "hpn/archive/split.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "hpn/engine/tar_stream.hpp"
#include "hpn/util/tar_header.hpp"

namespace hpn::archive {

namespace {

constexpr std::size_t k_block = 512;
const std::string k_zeros(2 * k_block, '\0');  // the end-of-archive blocks, and padding

Error layout_error(const std::string& why) {
  return Error(ErrorKind::protocol, "cannot split the daemon's multi-image export: " + why);
}

std::size_t padded(std::uint64_t n) { return static_cast<std::size_t>((n + k_block - 1) / k_block * k_block); }


// "a/b/../c" -> "a/c"; fails when it leaves the archive.
std::optional<std::string> normalise(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    const std::size_t j = std::min(path.find('/', i), path.size());
    const std::string_view part = path.substr(i, j - i);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

// The daemon's JSON files end as it encodes them (with a newline): keep that.
std::string trailer(std::string_view json) {
  const auto end = json.find_last_not_of(" \t\r\n");
  return std::string(end == std::string_view::npos ? json : json.substr(end + 1));
}

bool is_regular(char type) { return type == '0' || type == '\0'; }

// A copy of a header block with a new size (and type, mode, no link), checksummed.
std::string rewrite_header(const char* block, std::uint64_t size, char type, const char* mode = nullptr) {
  std::string h(block, k_block);
  char num[16];
  std::snprintf(num, sizeof num, "%011llo", static_cast<unsigned long long>(size));
  std::memcpy(h.data() + 124, num, 12);  // 11 digits and the NUL
  h[156] = type;
  if (type != '1' && type != '2') std::memset(h.data() + 157, 0, 100);  // linkname
  if (mode) std::memcpy(h.data() + 100, mode, 8);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(num, sizeof num, "%06o", sum);
  std::memcpy(h.data() + 148, num, 7);  // six digits and the NUL, then the space
  return h;
}

}  // namespace

Result<MultiImageArchive> MultiImageArchive::parse(std::string bytes) {
  MultiImageArchive a;
  a.bytes_ = std::move(bytes);
  const std::string& b = a.bytes_;
  std::size_t pos = 0;
  constexpr std::size_t none = std::string::npos;
  std::size_t ext_start = none;  // where the current member's extended headers began
  std::string long_name, long_link;
  bool have_manifest = false;
  while (pos + k_block <= b.size()) {
    const char* h = b.data() + pos;
    if (std::all_of(h, h + k_block, [](char c) { return c == '\0'; })) break;  // end of archive
    std::uint64_t size = 0;
    if (!util::parse_tar_number(h + 124, 12, size)) return layout_error("a header with a malformed size");
    const char type = h[156];
    if (size > b.size()) return layout_error("a member is cut short");
    const std::size_t end = pos + k_block + padded(size);
    if (end > b.size()) return layout_error("a member is cut short");
    const std::string_view content(b.data() + pos + k_block, static_cast<std::size_t>(size));
    if (type == 'x' || type == 'L' || type == 'K') {
      if (ext_start == none) ext_start = pos;
      if (type == 'L') long_name = util::tar_field(content.data(), content.size());
      if (type == 'K') long_link = util::tar_field(content.data(), content.size());
      if (type == 'x') {
        // Only names and link targets matter here.
        bool too_large = false;
        const bool ok = util::for_each_pax_record(content, [&](std::string_view key, std::string_view value) {
          if (key == "path") long_name = std::string(value);
          if (key == "linkpath") long_link = std::string(value);
          if (key == "size") too_large = true;
        });
        if (!ok) return layout_error("a malformed pax header");
        if (too_large) return layout_error("a member larger than a small image can be");
      }
      pos = end;
      continue;
    }
    if (type == 'g') return layout_error("a global pax header");
    Entry e;
    std::string name = long_name;
    if (name.empty()) name = util::tar_header_name(h);
    auto norm = normalise(name);
    if (!norm || norm->empty()) return layout_error("a member named '" + name + "'");
    e.name = *norm + (type == '5' ? "/" : "");
    e.type = type;
    e.link = !long_link.empty() ? long_link : util::tar_field(h + 157, 100);
    e.start = ext_start == none ? pos : ext_start;
    e.header = pos;
    e.data = pos + k_block;
    e.size = size;
    e.end = end;
    ext_start = none;
    long_name.clear();
    long_link.clear();

    // The legacy layout: manifest.json, repositories, <config>.json, and layer
    // directories holding VERSION, json and layer.tar. The OCI layout (Docker 25+):
    // blobs/sha256/<digest>, index.json and oci-layout beside manifest.json and
    // repositories.
    const auto slash = e.name.find('/');
    bool known = false;
    if (e.name == "blobs/" || e.name == "blobs/sha256/") {
      known = type == '5';
      a.oci_ = true;
    } else if (e.name.rfind("blobs/sha256/", 0) == 0) {
      const std::string_view hex = std::string_view(e.name).substr(13);
      known = is_regular(type) && hex.size() == 64 &&
              hex.find_first_not_of("0123456789abcdef") == std::string_view::npos;
      a.oci_ = true;
    } else if (e.name == "index.json" || e.name == "oci-layout") {
      known = is_regular(type);
      a.oci_ = true;
    } else if (slash == std::string::npos) {
      known = is_regular(type) && (e.name == "manifest.json" || e.name == "repositories" ||
                                   (e.name.size() > 5 && e.name.ends_with(".json") && e.name != "index.json"));
    } else {
      const std::string_view rest = std::string_view(e.name).substr(slash + 1);
      known = (type == '5' && rest.empty()) ||
              (is_regular(type) && (rest == "VERSION" || rest == "json" || rest == "layer.tar")) ||
              ((type == '1' || type == '2') && rest == "layer.tar");
    }
    if (!known) return layout_error("an unexpected member '" + e.name + "'");
    if (e.name == "manifest.json" || e.name == "repositories" || e.name == "index.json") {
      if (e.start != e.header) return layout_error(e.name + " has extended headers");
      if (e.name == "index.json") {
        a.index_ = nlohmann::ordered_json::parse(content, nullptr, false);
        if (!a.index_.is_object() || !a.index_.contains("manifests") || !a.index_["manifests"].is_array()) {
          return layout_error("index.json has no list of manifests");
        }
        a.index_end_ = trailer(content);
      } else if (e.name == "manifest.json") {
        a.manifest_ = nlohmann::ordered_json::parse(content, nullptr, false);
        if (!a.manifest_.is_array()) return layout_error("manifest.json is not a list");
        a.manifest_end_ = trailer(content);
        have_manifest = true;
      } else {
        a.repositories_ = nlohmann::json::parse(content, nullptr, false);
        if (!a.repositories_.is_object()) return layout_error("repositories is not an object");
        a.repositories_end_ = trailer(content);
      }
    }
    a.entries_.push_back(std::move(e));
    pos = end;
  }
  if (!have_manifest) return layout_error("no manifest.json");
  if (a.oci_ && a.index_.is_null()) return layout_error("blobs but no index.json");
  return a;
}

const MultiImageArchive::Entry* MultiImageArchive::find(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

void SingleArchive::add(std::string_view piece) {
  if (piece.empty()) return;
  pieces_.push_back(piece);
  size_ += piece.size();
}

void SingleArchive::add_owned(std::string piece) {
  owned_.push_back(std::move(piece));
  add(owned_.back());
}

Result<std::uint64_t> SingleArchive::write(const util::Sink& sink) const {
  for (const auto& p : pieces_) {
    if (auto st = sink(p); !st) return st.error();
  }
  return size_;
}

Result<SingleArchive> MultiImageArchive::single(const image::Reference& ref) const {
  const auto want = ref.canonical();
  auto same_image = [&](const std::string& name) {
    auto r = image::parse_reference(name);
    return r && r->canonical() == want;
  };
  std::optional<nlohmann::ordered_json> item;
  for (const auto& m : manifest_) {
    if (!m.is_object() || !m.contains("RepoTags") || !m["RepoTags"].is_array()) continue;
    for (const auto& t : m["RepoTags"]) {
      if (t.is_string() && same_image(t.get<std::string>())) {
        item = m;
        (*item)["RepoTags"] = nlohmann::ordered_json::array({t});
        // "Parent" names another image of the same export; alone, an image has none.
        item->erase("Parent");
        break;
      }
    }
    if (item) break;
  }
  if (!item) return layout_error("it does not hold " + ref.original);
  if (!item->contains("Config") || !(*item)["Config"].is_string() || !item->contains("Layers") ||
      !(*item)["Layers"].is_array()) {
    return layout_error("the manifest entry of " + ref.original + " lacks Config or Layers");
  }
  if (oci_) return single_oci(ref, *item);
  const std::string config = (*item)["Config"].get<std::string>();
  std::set<std::string> dirs;
  for (const auto& l : (*item)["Layers"]) {
    if (!l.is_string() || !l.get<std::string>().ends_with("/layer.tar") || !find(l.get<std::string>())) {
      return layout_error("a layer of " + ref.original + " that is not a layer directory's layer.tar");
    }
    const auto& s = l.get_ref<const std::string&>();
    dirs.insert(s.substr(0, s.size() - std::string_view("layer.tar").size()));
  }
  if (!find(config)) return layout_error("the config of " + ref.original + " is missing");
  auto selected = [&](const std::string& name) {
    if (name == config) return true;
    const auto slash = name.find('/');
    return slash != std::string::npos && dirs.count(name.substr(0, slash + 1)) > 0;
  };

  const std::string repositories = repositories_of(ref);
  SingleArchive out;
  const std::string one = nlohmann::ordered_json::array({*item}).dump() + manifest_end_;
  for (const auto& e : entries_) {
    const char* h = bytes_.data() + e.header;
    if (e.name == "manifest.json") {
      add_file(out, e, one);
    } else if (e.name == "repositories") {
      if (!repositories.empty()) add_file(out, e, repositories);
    } else if (!selected(e.name)) {
      continue;
    } else if (e.type == '1' || e.type == '2') {
      // The daemon stored this layer once and linked the other copies to it; a
      // single export has the file itself unless its target is in it too.
      const auto dir = e.name.substr(0, e.name.rfind('/') + 1);
      auto target_name = normalise(e.type == '2' ? dir + e.link : e.link);
      const Entry* target = target_name ? find(*target_name) : nullptr;
      if (!target || !is_regular(target->type)) return layout_error("a layer link to a missing layer in " + ref.original);
      if (selected(target->name)) {
        out.add(std::string_view(bytes_).substr(e.start, e.end - e.start));
      } else {
        if (e.start != e.header) return layout_error("a layer link with extended headers");
        out.add_owned(rewrite_header(h, target->size, '0', bytes_.data() + target->header + 100));
        out.add(std::string_view(bytes_).substr(target->data, target->end - target->data));
      }
    } else {
      out.add(std::string_view(bytes_).substr(e.start, e.end - e.start));
    }
  }
  out.add(k_zeros);
  return out;
}

// A member written anew: the daemon's header with the new size, the text, its padding.
void MultiImageArchive::add_file(SingleArchive& out, const Entry& e, const std::string& text) const {
  out.add_owned(rewrite_header(bytes_.data() + e.header, text.size(), e.type));
  out.add_owned(text);
  out.add(std::string_view(k_zeros).substr(0, padded(text.size()) - text.size()));
}

std::string_view MultiImageArchive::content(const Entry& e) const {
  return std::string_view(bytes_).substr(e.data, static_cast<std::size_t>(e.size));
}

std::string MultiImageArchive::repositories_of(const image::Reference& ref) const {
  if (!repositories_.is_object()) return {};
  const auto want = ref.canonical();
  nlohmann::json mine = nlohmann::json::object();
  for (const auto& [repo, tags] : repositories_.items()) {
    if (!tags.is_object()) continue;
    for (const auto& [tag, id] : tags.items()) {
      auto r = image::parse_reference(repo + ":" + tag);
      if (r && r->canonical() == want) mine[repo][tag] = id;
    }
  }
  return mine.empty() ? std::string() : mine.dump() + repositories_end_;
}

// The OCI layout: the image's index.json entries (one per tag), the blobs its
// manifest names, and, from Docker's classic store, the legacy per-layer configs
// ("json" of the old layout, stored as blobs no manifest names) of its layer chain.
Result<SingleArchive> MultiImageArchive::single_oci(const image::Reference& ref,
                                                    const nlohmann::ordered_json& item) const {
  const auto want = ref.canonical();
  auto blob = [&](const std::string& digest) -> const Entry* {
    if (digest.rfind("sha256:", 0) != 0) return nullptr;
    return find("blobs/sha256/" + digest.substr(7));
  };
  auto parse_blob = [&](const Entry* e) {
    return e ? nlohmann::json::parse(content(*e), nullptr, false) : nlohmann::json();
  };
  // Every blob some image manifest of the export names: the others are legacy configs.
  std::set<std::string> named;
  nlohmann::ordered_json mine = nlohmann::ordered_json::array();
  std::set<std::string> selected;
  for (const auto& d : index_["manifests"]) {
    if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string()) return layout_error("an index.json entry without a digest");
    const std::string digest = d["digest"].get<std::string>();
    const std::string media = d.value("mediaType", "");
    if (media.find("index") != std::string::npos || media.find("manifest.list") != std::string::npos) {
      return layout_error("an image index (a multi-platform image) in index.json");
    }
    const Entry* me = blob(digest);
    auto m = parse_blob(me);
    if (!m.is_object() || !m.contains("config") || !m.contains("layers") || !m["layers"].is_array()) {
      return layout_error("the manifest " + digest + " is missing or not an image manifest");
    }
    std::vector<std::string> parts = {digest, m["config"].value("digest", "")};
    for (const auto& l : m["layers"]) parts.push_back(l.is_object() ? l.value("digest", "") : "");
    for (const auto& p : parts) named.insert(p);
    std::string name;
    if (d.contains("annotations") && d["annotations"].is_object()) {
      name = d["annotations"].value("io.containerd.image.name", "");
    }
    auto r = image::parse_reference(name);
    if (!r || r->canonical() != want) continue;
    mine.push_back(d);
    for (const auto& p : parts) {
      const Entry* e = blob(p);
      if (!e) return layout_error("a blob of " + ref.original + " is missing (" + p + ")");
      selected.insert(e->name);
    }
  }
  if (mine.empty()) return layout_error("index.json does not name " + ref.original);

  // Legacy layer configs: {"id", "parent"?...}; the image's top one repeats its
  // config's "created" and "config", the others are empty but for the chain.
  std::map<std::string, const Entry*> legacy;  // id -> blob
  for (const auto& e : entries_) {
    if (e.name.rfind("blobs/sha256/", 0) != 0 || !is_regular(e.type) || named.count("sha256:" + e.name.substr(13)) > 0) {
      continue;
    }
    auto j = parse_blob(&e);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
      return layout_error("a blob no manifest names that is not a legacy layer config (" + e.name + ")");
    }
    legacy[j["id"].get<std::string>()] = &e;
  }
  if (!legacy.empty()) {
    const Entry* ce = find(item["Config"].get<std::string>());
    auto config = parse_blob(ce);
    if (!config.is_object()) return layout_error("the config of " + ref.original + " is not JSON");
    const std::size_t layers = item["Layers"].size();
    std::vector<std::vector<const Entry*>> chains;
    for (const auto& [id, e] : legacy) {
      auto top = parse_blob(e);
      if (top.value("created", "") != config.value("created", "") ||
          top.value("config", nlohmann::json()) != config.value("config", nlohmann::json())) {
        continue;
      }
      std::vector<const Entry*> chain = {e};
      std::string parent = top.value("parent", "");
      while (!parent.empty() && chain.size() <= layers) {
        auto it = legacy.find(parent);
        if (it == legacy.end()) break;
        chain.push_back(it->second);
        parent = parse_blob(it->second).value("parent", "");
      }
      if (parent.empty() && chain.size() == layers) chains.push_back(std::move(chain));
    }
    if (chains.size() != 1) {
      return layout_error("cannot tell which legacy layer configs belong to " + ref.original);
    }
    for (const Entry* e : chains.front()) selected.insert(e->name);
  }

  nlohmann::ordered_json index = index_;
  index["manifests"] = mine;
  const std::string index_text = index.dump() + index_end_;
  const std::string manifest_text = nlohmann::ordered_json::array({item}).dump() + manifest_end_;
  const std::string repositories = repositories_of(ref);

  SingleArchive out;
  for (const auto& e : entries_) {
    if (e.name == "index.json") {
      add_file(out, e, index_text);
    } else if (e.name == "manifest.json") {
      add_file(out, e, manifest_text);
    } else if (e.name == "repositories") {
      if (!repositories.empty()) add_file(out, e, repositories);
    } else if (e.name.rfind("blobs/sha256/", 0) == 0 && is_regular(e.type) && selected.count(e.name) == 0) {
      continue;
    } else {
      out.add(std::string_view(bytes_).substr(e.start, e.end - e.start));
    }
  }
  out.add(k_zeros);
  return out;
}

}  // namespace hpn::archive
