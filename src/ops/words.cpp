// The words of the text output: a result as the finish line says it, a daemon's
// message with the image's name taken out (the line names it already), sizes and
// durations.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <variant>
#include <vector>

#include "hpn/ops/reporter.hpp"
#include "overloaded.hpp"

namespace hpn::ops {

namespace {

std::string referrers_text(std::size_t copied, std::size_t left) {
  std::string s;
  if (copied > 0) {
    s = "; " + std::to_string(copied) + (copied == 1 ? " referrer" : " referrers") +
        " (signatures, attestations, SBOMs) copied";
  }
  if (left > 0) {
    s += "; " + std::to_string(left) + (left == 1 ? " referrer" : " referrers") +
         " (signatures, attestations, SBOMs) left behind: the destination keeps none";
  }
  return s;
}

std::string verified_text(std::size_t signatures, std::size_t attestations) {
  if (signatures == 0) return {};
  std::string s = signatures == 1 ? "; signature verified" : "; " + std::to_string(signatures) + " signatures verified";
  if (attestations > 0)
    s += ", " + std::to_string(attestations) + (attestations == 1 ? " attestation" : " attestations");
  return s;
}

std::string referrers_text(const Transferred& t) { return referrers_text(t.referrers, t.referrers_left); }
std::string verified_text(const Transferred& t) {
  return verified_text(t.signatures_verified, t.attestations_verified);
}

std::string transferred_text(const Transferred& t, bool unchanged) {
  if (unchanged) return "-> " + t.target + " (" + t.digest + ")" + referrers_text(t) + verified_text(t);
  if (t.digest.empty()) return "-> " + t.target;
  std::string s = "-> " + t.target + (t.image_id ? " image ID " : " digest ") + t.digest;
  if (t.blobs_counted) {
    s += " (" + std::to_string(t.blobs_sent) + " blobs sent, " + std::to_string(t.blobs_present) + " already there" +
         (t.blobs_mounted ? ", " + std::to_string(t.blobs_mounted) + " of them mounted" : std::string()) +
         (t.cache_hits ? "; " + std::to_string(t.cache_hits) + " known from earlier runs" : std::string()) + ")";
  }
  s += referrers_text(t) + verified_text(t);
  if (!t.platform.empty()) {
    s +=
        "; only " + t.platform + " of the index " + t.index_digest + ": the digest is that manifest's, not the index's";
  }
  return s;
}

std::string written_text(const WrittenArchive& w, bool unchanged) {
  if (unchanged) return "unchanged: " + w.path.string() + " already exists and verified";
  std::string s = "-> " + w.path.string();
  if (w.compression != archive::Compression::none) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, " (%s, %.0f%%)", std::string(archive::to_string(w.compression)).c_str(),
                  w.tar_bytes > 0 ? 100.0 * static_cast<double>(w.file_bytes) / static_cast<double>(w.tar_bytes) : 0.0);
    s += ratio;
  }
  return s;
}

std::string loaded_text(const LoadedArchive& l) {
  std::string s;
  for (const auto& img : l.images) s += (s.empty() ? "loaded " : ", ") + img;
  if (l.compression != archive::Compression::none) s += " (" + std::string(archive::to_string(l.compression)) + ")";
  return s + referrers_text(0, l.referrers_left) + verified_text(l.signatures_verified, l.attestations_verified);
}

}  // namespace

std::string outcome_text(const Outcome& outcome) {
  std::string s = std::visit(Overloaded{
                                 [](const std::monostate&) { return std::string(); },
                                 [&](const Transferred& t) { return transferred_text(t, outcome.unchanged); },
                                 [](const Pulled& p) { return p.digest; },
                                 [&](const WrittenArchive& w) { return written_text(w, outcome.unchanged); },
                                 [](const LoadedArchive& l) { return loaded_text(l); },
                                 [](const Removed& r) {
                                   return "(untagged " + std::to_string(r.untagged) + ", deleted " +
                                          std::to_string(r.deleted) + ")";
                                 },
                             },
                             outcome.result);
  if (!outcome.note.empty()) s += (s.empty() ? "" : "; ") + outcome.note;
  return s;
}

namespace {

// Spellings of `name` that a daemon's message may use: as given, with the implied
// ":latest", and with Docker Hub's implied prefixes.
std::vector<std::string> spellings(std::string_view name) {
  std::vector<std::string> out{std::string(name)};
  const auto slash = name.rfind('/');
  const bool tagged = name.find('@') != std::string_view::npos ||
                      name.find(':', slash == std::string_view::npos ? 0 : slash) != std::string_view::npos;
  if (!tagged) out.push_back(std::string(name) + ":latest");
  const std::size_t n = out.size();
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back("docker.io/" + out[i]);
    if (slash == std::string_view::npos) out.push_back("docker.io/library/" + out[i]);
  }
  // Longest first, so that "docker.io/x:1" is taken before "x:1".
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

std::string without_name(std::string_view message, std::string_view name) {
  if (name.empty()) return std::string(message);
  const auto names = spellings(name);
  // The message's ": "-separated parts; a part that is only the name goes, a name
  // at a part's end or start is cut from it ("failed to find image X: X: No such
  // image" -> "failed to find image: No such image"; "No such image: X (HTTP 404)" ->
  // "No such image (HTTP 404)").
  std::vector<std::string> parts;
  std::size_t from = 0;
  for (;;) {
    const auto at = message.find(": ", from);
    parts.emplace_back(message.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from));
    if (at == std::string_view::npos) break;
    from = at + 2;
  }
  std::vector<std::string> kept;
  for (auto part : parts) {
    bool drop = false;
    for (const auto& n : names) {
      if (part == n) {
        drop = true;
        break;
      }
      if (ends_with(part, " " + n)) {
        part.resize(part.size() - n.size() - 1);
        break;
      }
      if (part.rfind(n + " ", 0) == 0 && !kept.empty()) {
        kept.back() += part.substr(n.size());  // keeps the space before the rest
        drop = true;
        break;
      }
    }
    if (!drop && !part.empty()) kept.push_back(std::move(part));
  }
  std::string out;
  for (const auto& k : kept) out += (out.empty() ? "" : ": ") + k;
  return out.empty() ? std::string(message) : out;
}

std::string human_bytes(std::uint64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (bytes < 1000)
    std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
  else if (b < 1e6)
    std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  else if (b < 1e9)
    std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  return buf;
}

std::string human_duration(std::chrono::milliseconds d) {
  char buf[32];
  const double s = static_cast<double>(d.count()) / 1000.0;
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

}  // namespace hpn::ops
