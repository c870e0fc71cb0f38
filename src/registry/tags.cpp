// A repository's tags (GET /v2/NAME/tags/list), page by page: `n` asks for a page
// size, and each page's Link header names the next (`last` the tag it starts
// after). Rate limits and retries are send()'s. The paged GET (each_page) serves
// the referrers API's pages too.
#include <nlohmann/json.hpp>

#include "hpn/registry/client.hpp"
#include "hpn/registry/referrers.hpp"
#include "internal.hpp"

namespace hpn::registry {

namespace {

constexpr std::size_t k_max_page_bytes = 8u << 20;
constexpr int k_max_tag_pages = 10000;

}  // namespace

Status Fetcher::each_page(const image::Reference& ref, std::string url, const std::string& accept,
                          const std::string& what, std::size_t max_bytes, int max_pages, const PageFn& page) {
  for (int index = 0; !url.empty(); ++index) {
    if (index == max_pages) {
      return Error(ErrorKind::protocol, what + " runs to over " + std::to_string(max_pages) + " pages");
    }
    engine::Request req;
    req.url = url;
    req.headers.push_back("Accept: " + accept);
    req.timeout = std::chrono::milliseconds(120000);
    std::string body;
    auto r = send(
        ref, req,
        [&](std::string_view chunk) -> Status {
          if (body.size() + chunk.size() > max_bytes) {
            return Error(ErrorKind::protocol, what + ": the registry's answer is implausibly large (over " +
                                                  std::to_string(max_bytes >> 20) + " MiB)");
          }
          body.append(chunk);
          return {};
        },
        [&](engine::Request&) { body.clear(); });
    if (!r) return r.error().with_context(ref.original);
    auto more = page(index, *r, body);
    if (!more) return more.error();
    if (!*more) return {};
    // The next page on the same host, by its path; another host is not followed.
    url = next_link(r->header("link"));
    if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
      const auto path = url.find('/', url.find("://") + 3);
      url = path == std::string::npos ? std::string() : url.substr(path);
    }
    if (!url.empty() && url.front() != '/') url.clear();
  }
  return {};
}

Result<std::vector<std::string>> Fetcher::tags(const image::Reference& ref, std::size_t page_size) {
  const std::string what = ref.repository() + "'s tag list";
  std::vector<std::string> all;
  std::string url = "/v2/" + ref.path + "/tags/list";
  if (page_size > 0) url += "?n=" + std::to_string(page_size);
  auto st =
      each_page(ref, url, "application/json", what, k_max_page_bytes, k_max_tag_pages,
                [&](int, const engine::Response& r, std::string& body) -> Result<bool> {
                  if (r.status == 404) {
                    return Error(ErrorKind::not_found, ref.repository() + ": the registry has no such repository");
                  }
                  if (!r.success()) {
                    return Error(ErrorKind::protocol, what + ": the request failed: " + describe_status(r));
                  }
                  const auto j = nlohmann::json::parse(body, nullptr, false);
                  if (!j.is_object() || !j.contains("tags")) {
                    return Error(ErrorKind::protocol, what + ": the registry's answer has no tags list");
                  }
                  // A repository with no tags left may say null.
                  if (j["tags"].is_array()) {
                    for (const auto& t : j["tags"]) {
                      if (t.is_string()) all.push_back(t.get<std::string>());
                    }
                  }
                  return true;
                });
  if (!st) return st.error();
  // The listing is whole: which referrer tags the repository has is known now.
  if (auto host = host_of(ref)) {
    auto known = std::make_shared<const std::set<std::string>>(all.begin(), all.end());
    std::lock_guard lock((*host)->mu);
    (*host)->listed_tags[ref.path] = std::move(known);
  }
  return all;
}

}  // namespace hpn::registry
