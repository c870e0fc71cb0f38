#include "support/tar_util.hpp"

#include <fstream>
#include <memory>
#include <stdexcept>

#include <archive.h>
#include <archive_entry.h>

#include "hpn/util/sha256.hpp"

namespace hpn::test {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

template <class Fn>
void for_each_member(const std::filesystem::path& path, Fn fn) {
  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_all(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    throw std::runtime_error("cannot open " + path.string() + ": " + archive_error_string(a.get()));
  }
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    fn(a.get(), e, name);
  }
  if (r != ARCHIVE_EOF) {
    throw std::runtime_error("error reading " + path.string() + ": " + archive_error_string(a.get()));
  }
}

}  // namespace

std::map<std::string, std::string> tar_member_digests(const std::filesystem::path& path) {
  std::map<std::string, std::string> out;
  for_each_member(path, [&](archive* a, archive_entry* e, const std::string& name) {
    if (archive_entry_filetype(e) != AE_IFREG) return;
    util::Sha256 h;
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) h.update({buf, static_cast<size_t>(n)});
    out[name] = h.hex_digest();
  });
  return out;
}

std::string tar_member(const std::filesystem::path& path, const std::string& wanted) {
  std::string out;
  for_each_member(path, [&](archive* a, archive_entry*, const std::string& name) {
    if (name != wanted) return;
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  });
  return out;
}

std::string file_sha256(const std::filesystem::path& file) {
  std::ifstream f(file, std::ios::binary);
  util::Sha256 h;
  char buf[65536];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) h.update({buf, static_cast<size_t>(f.gcount())});
  return h.hex_digest();
}

}  // namespace hpn::test
