#include "hpn/registry/referrers.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "hpn/registry/client.hpp"
#include "hpn/util/tar_header.hpp"
#include "internal.hpp"

namespace hpn::registry {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::size_t k_max_index = 4u << 20;  // as a manifest
constexpr int k_max_pages = 100;

Result<std::vector<Referrer>> entries_of(const ordered_json& index, const std::string& what) {
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return Error(ErrorKind::protocol, what + " is not an index of referrers (it has no manifests list)");
  }
  std::vector<Referrer> out;
  for (const auto& e : index["manifests"]) {
    Referrer r;
    if (!e.is_object() || !e.contains("digest") || !e["digest"].is_string() || !e.contains("size") ||
        !e["size"].is_number_unsigned() || !e.contains("mediaType") || !e["mediaType"].is_string()) {
      return Error(ErrorKind::protocol, what + " lists an entry without a media type, a digest and a size");
    }
    r.descriptor.digest = e["digest"].get<std::string>();
    r.descriptor.size = e["size"].get<std::uint64_t>();
    r.descriptor.media_type = e["mediaType"].get<std::string>();
    const std::string& d = r.descriptor.digest;
    if (d.rfind("sha256:", 0) != 0 || !util::is_sha256_hex(std::string_view(d).substr(7))) {
      return Error(ErrorKind::protocol, what + " lists " + r.descriptor.digest + ", which is not a sha256 digest");
    }
    if (e.contains("artifactType") && e["artifactType"].is_string()) r.artifact_type = e["artifactType"];
    r.entry = e.dump();
    out.push_back(std::move(r));
  }
  return out;
}

Result<ordered_json> parse_json(std::string_view body, const std::string& what) {
  auto j = ordered_json::parse(body, nullptr, false);
  if (j.is_discarded()) return Error(ErrorKind::protocol, what + " is not JSON");
  return j;
}

}  // namespace

std::optional<std::pair<std::string, Referrer>> referrer_entry(const Descriptor& d, std::string_view body) {
  auto j = ordered_json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("subject") || !j["subject"].is_object()) return std::nullopt;
  const auto& subject = j["subject"];
  if (!subject.contains("digest") || !subject["digest"].is_string()) return std::nullopt;
  Referrer r;
  r.descriptor = {.media_type = d.media_type, .digest = d.digest, .size = body.size()};
  if (j.contains("artifactType") && j["artifactType"].is_string()) {
    r.artifact_type = j["artifactType"];
  } else if (j.contains("config") && j["config"].is_object() && j["config"].contains("mediaType") &&
             j["config"]["mediaType"].is_string()) {
    r.artifact_type = j["config"]["mediaType"];
  }
  ordered_json e = ordered_json::object();
  e["mediaType"] = d.media_type;
  e["digest"] = d.digest;
  e["size"] = body.size();
  if (!r.artifact_type.empty()) e["artifactType"] = r.artifact_type;
  if (j.contains("annotations") && j["annotations"].is_object()) e["annotations"] = j["annotations"];
  r.entry = e.dump();
  return std::make_pair(subject["digest"].get<std::string>(), std::move(r));
}

std::string fallback_tag(std::string_view digest) {
  std::string tag(digest);
  if (const auto colon = tag.find(':'); colon != std::string::npos) tag[colon] = '-';
  return tag;
}

bool is_referrer_tag(std::string_view tag) {
  constexpr std::string_view prefix = "sha256-";
  if (tag.rfind(prefix, 0) != 0 || tag.size() < prefix.size() + 64) return false;
  if (!util::is_sha256_hex(tag.substr(prefix.size(), 64))) return false;
  const std::string_view rest = tag.substr(prefix.size() + 64);
  return rest.empty() || std::find(std::begin(k_cosign_tag_suffixes), std::end(k_cosign_tag_suffixes), rest) !=
                             std::end(k_cosign_tag_suffixes);
}

Result<std::vector<Referrer>> parse_referrers(std::string_view index_body, const std::string& what) {
  auto j = parse_json(index_body, what);
  if (!j) return j.error();
  return entries_of(*j, what);
}

Result<std::optional<std::string>> merge_referrers(std::string_view existing, const std::vector<Referrer>& add,
                                                   const std::string& what) {
  ordered_json index;
  if (existing.empty()) {
    index = ordered_json::object();
    index["schemaVersion"] = 2;
    index["mediaType"] = std::string(k_oci_index);
    index["manifests"] = ordered_json::array();
  } else {
    auto j = parse_json(existing, what);
    if (!j) return j.error();
    if (auto entries = entries_of(*j, what); !entries) return entries.error();
    index = std::move(*j);
  }
  std::set<std::string> have;
  for (const auto& e : index["manifests"]) have.insert(e["digest"].get<std::string>());
  bool added = false;
  for (const auto& r : add) {
    if (!have.insert(r.descriptor.digest).second) continue;
    auto e = ordered_json::parse(r.entry, nullptr, false);
    if (e.is_discarded() || !e.is_object()) {
      e = {{"mediaType", r.descriptor.media_type}, {"digest", r.descriptor.digest}, {"size", r.descriptor.size}};
      if (!r.artifact_type.empty()) e["artifactType"] = r.artifact_type;
    }
    index["manifests"].push_back(std::move(e));
    added = true;
  }
  if (!added) return std::optional<std::string>{};
  return std::optional<std::string>(index.dump());
}

std::string next_link(std::string_view header) {
  std::size_t pos = 0;
  while ((pos = header.find('<', pos)) != std::string_view::npos) {
    const auto close = header.find('>', pos);
    if (close == std::string_view::npos) return {};
    const auto end = header.find(',', close);
    const std::string_view params = header.substr(close + 1, end == std::string_view::npos ? end : end - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos || params.find("rel=next") != std::string_view::npos) {
      return std::string(header.substr(pos + 1, close - pos - 1));
    }
    pos = close + 1;
  }
  return {};
}

Result<std::optional<std::vector<Referrer>>> Fetcher::listed_referrers(const image::Reference& ref,
                                                                       const std::string& digest,
                                                                       const std::string& artifact_type) {
  const std::string what = ref.repository() + "'s referrers of " + digest;
  auto host = host_of(ref);
  if (!host) return host.error();
  if ((*host)->referrers_api < 0) return std::optional<std::vector<Referrer>>{};
  std::vector<Referrer> all;
  std::string url = "/v2/" + ref.path + "/referrers/" + digest;
  if (!artifact_type.empty()) url += "?artifactType=" + engine::url_escape(artifact_type);
  bool none = false;
  auto st = each_page(ref, url, std::string(k_oci_index), what, k_max_index, k_max_pages,
                      [&](int page, const engine::Response& r, std::string& body) -> Result<bool> {
                        // A registry with the API answers 200, with an empty list when nothing
                        // refers to the digest; one without it has no such route (404, or 400,
                        // 405 or 501 from those that read the path as something else).
                        if (page == 0 && (r.status == 404 || r.status == 400 || r.status == 405 || r.status == 501)) {
                          none = true;
                          return false;
                        }
                        if (!r.success()) {
                          return Error(ErrorKind::protocol, what + ": the request failed: " + describe_status(r));
                        }
                        auto listed = parse_referrers(body, what);
                        if (!listed) return listed.error();
                        all.insert(all.end(), listed->begin(), listed->end());
                        return true;
                      });
  if (!st) return st.error();
  if (none) {
    (*host)->referrers_api = -1;
    return std::optional<std::vector<Referrer>>{};
  }
  (*host)->referrers_api = 1;
  return std::optional<std::vector<Referrer>>(std::move(all));
}

Result<bool> Fetcher::has_referrers_api(const image::Reference& ref, const std::string& digest) {
  auto host = host_of(ref);
  if (!host) return host.error();
  if (const int known = (*host)->referrers_api; known != 0) return known > 0;
  auto listed = listed_referrers(ref, digest);
  if (!listed) return listed.error();
  return listed->has_value();
}

Result<Referrers> Fetcher::referrers(const image::Reference& ref, const std::string& digest, bool cosign_tags,
                                     const std::string& artifact_type) {
  Referrers out;
  auto listed = listed_referrers(ref, digest, artifact_type);
  if (!listed) return listed.error();
  // A repository listed whole in this batch: only the referrer tags it has.
  std::shared_ptr<const std::set<std::string>> known;
  if (auto host = host_of(ref)) {
    std::lock_guard lock((*host)->mu);
    if (auto it = (*host)->listed_tags.find(ref.path); it != (*host)->listed_tags.end()) known = it->second;
  }
  const auto may_have = [&](const std::string& tag) { return !known || known->contains(tag); };
  if (*listed) {
    out.listed = std::move(**listed);
  } else if (may_have(fallback_tag(digest))) {
    auto index = manifest(ref, fallback_tag(digest));
    if (!index && index.error().kind != ErrorKind::not_found) return index.error();
    if (index && is_index(index->media_type)) {
      auto entries = parse_referrers(index->body, ref.repository() + ":" + fallback_tag(digest));
      if (!entries) return entries.error();
      out.listed = std::move(*entries);
    }
  }
  for (const auto suffix : k_cosign_tag_suffixes) {
    if (!cosign_tags) break;
    const std::string tag = fallback_tag(digest) + std::string(suffix);
    if (!may_have(tag)) continue;
    auto m = manifest(ref, tag);
    if (!m && m.error().kind == ErrorKind::not_found) continue;
    if (!m) return m.error();
    out.tagged.push_back({tag, Descriptor{.media_type = m->media_type, .digest = m->digest, .size = m->body.size()}});
  }
  return out;
}

}  // namespace hpn::registry
