// One daemon export of several images, split into the archives single exports
// would have given.
//
// A Docker daemon's export has a fixed cost per request (it stages every export
// in a directory of its own first) that dominates for small images: exporting
// six small images in one request costs the daemon little more than one. This
// reads such a multi-image docker-archive (held in memory: only small images are
// grouped, under a fixed budget) and writes, for one of its images, the archive
// `GET /images/get?names=IMAGE` would have returned: that image's config, its layer
// directories, a manifest.json with its one entry and only its tag, and a
// repositories file with only its tag. Member contents are the daemon's bytes; the
// daemon's own headers are kept, except for the two rewritten files and for a layer
// the daemon stored as a link to another image's copy, which becomes a regular file.
//
// The OCI layout of Docker 25+ (both image stores) is split the same way: the
// image's index.json entries, the blobs its manifest names and, from the classic
// store, the legacy layer configs of its layer chain (blobs no manifest names,
// matched to the image by its config and their parent links). An image index
// (a multi-platform image), a blob it cannot place or a member it does not know is
// an error, and the caller exports the images one by one instead.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpn/util/stream.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/util/result.hpp"

namespace hpn::archive {

// The archive of one image, as pieces: views into the MultiImageArchive it came
// from (which must outlive it) and the few headers and files written anew.
class SingleArchive {
 public:
  std::uint64_t size() const { return size_; }
  // Stream it; returns the bytes written.
  Result<std::uint64_t> write(const util::Sink& sink) const;

 private:
  friend class MultiImageArchive;
  void add(std::string_view piece);
  void add_owned(std::string piece);
  std::vector<std::string_view> pieces_;
  std::deque<std::string> owned_;  // stable addresses for the pieces that point here
  std::uint64_t size_ = 0;
};

class MultiImageArchive {
 public:
  // Parse a complete archive (the whole export). Fails on a layout it cannot split.
  static Result<MultiImageArchive> parse(std::string bytes);

  // The single-image archive of `ref` (matched by its tag). Everything is checked
  // here: an error means nothing was written, and the image can be exported alone.
  Result<SingleArchive> single(const image::Reference& ref) const;

 private:
  struct Entry {
    std::string name;         // normalised: no "./", directories end in "/"
    std::size_t start = 0;    // first byte of its records (extended headers included)
    std::size_t header = 0;   // its own 512-byte header
    std::size_t data = 0;     // first content byte
    std::uint64_t size = 0;   // content bytes
    std::size_t end = 0;      // one past its padded content
    char type = '0';
    std::string link;         // link target of a symlink ('2') or hard link ('1')
  };
  const Entry* find(std::string_view name) const;
  std::string_view content(const Entry& e) const;
  void add_file(SingleArchive& out, const Entry& e, const std::string& text) const;
  std::string repositories_of(const image::Reference& ref) const;
  Result<SingleArchive> single_oci(const image::Reference& ref, const nlohmann::ordered_json& item) const;

  std::string bytes_;
  std::vector<Entry> entries_;
  nlohmann::ordered_json manifest_;  // manifest.json, its keys in the daemon's order
  std::string manifest_end_;         // what followed its JSON (the encoder's newline)
  nlohmann::json repositories_;      // null when the export has none
  std::string repositories_end_;
  bool oci_ = false;                 // the OCI layout (blobs/, index.json)
  nlohmann::ordered_json index_;     // index.json, its keys in the daemon's order
  std::string index_end_;
};

}  // namespace hpn::archive
