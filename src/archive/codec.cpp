#include "hpn/archive/codec.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "hpn/util/log.hpp"
#include "igzip.hpp"

namespace hpn::archive {
namespace {

struct WriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

std::string archive_message(struct archive* a, std::string_view fallback) {
  const char* s = archive_error_string(a);
  return s != nullptr ? std::string(s) : std::string(fallback);
}

}  // namespace

std::string_view to_string(Compression c) {
  switch (c) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::zstd: return "zstd";
    case Compression::xz: return "xz";
    case Compression::bzip2: return "bzip2";
  }
  return "none";
}

std::optional<Compression> parse_compression(std::string_view name) {
  if (name == "none" || name.empty()) return Compression::none;
  if (name == "gzip" || name == "gz") return Compression::gzip;
  if (name == "zstd" || name == "zst") return Compression::zstd;
  if (name == "xz") return Compression::xz;
  return std::nullopt;
}

std::string_view file_suffix(Compression c) {
  switch (c) {
    case Compression::none: return ".tar";
    case Compression::gzip: return ".tar.gz";
    case Compression::zstd: return ".tar.zst";
    case Compression::xz: return ".tar.xz";
    case Compression::bzip2: return ".tar.bz2";
  }
  return ".tar";
}

Compression detect_compression(std::string_view h) {
  auto starts = [&](std::string_view magic) { return h.substr(0, magic.size()) == magic; };
  if (starts("\x1f\x8b")) return Compression::gzip;
  if (starts("\x28\xb5\x2f\xfd")) return Compression::zstd;
  if (starts("\xfd" "7zXZ\x00")) return Compression::xz;
  if (starts("BZh")) return Compression::bzip2;
  return Compression::none;
}

// ---- Compressor --------------------------------------------------------------

struct Compressor::Impl {
  std::optional<igzip::Deflate> gzip;  // gzip: ISA-L
  std::unique_ptr<struct archive, WriteFree> a;  // other codecs: libarchive
  Output out;
  std::optional<Error> out_error;
  bool finished = false;

  // Free the writer first: freeing flushes through on_write, which uses the members.
  ~Impl() { a.reset(); }

  static la_ssize_t on_write(struct archive*, void* self_, const void* buf, size_t n) {
    auto* self = static_cast<Impl*>(self_);
    auto st = self->out(std::string_view(static_cast<const char*>(buf), n));
    if (!st) {
      self->out_error = st.error();
      return -1;
    }
    return static_cast<la_ssize_t>(n);
  }

  Error failure(std::string_view what) {
    if (out_error) return *out_error;
    return {ErrorKind::io, std::string(what) + ": " + archive_message(a.get(), "compression failed")};
  }
};

Compressor::Compressor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Compressor::Compressor(Compressor&&) noexcept = default;
Compressor& Compressor::operator=(Compressor&&) noexcept = default;
Compressor::~Compressor() = default;

Result<Compressor> Compressor::open(Compression c, int level, int threads, Output out) {
  auto impl = std::make_unique<Impl>();
  if (c == Compression::gzip) {
    if (level > 9) {
      return Error(ErrorKind::invalid_argument, "compression level " + std::to_string(level) + " is not valid for gzip");
    }
    auto d = igzip::Deflate::open(igzip::level_for(level, 6), std::move(out));
    if (!d) return d.error();
    impl->gzip.emplace(std::move(*d));
    return Compressor(std::move(impl));
  }
  impl->out = std::move(out);
  impl->a.reset(archive_write_new());
  struct archive* a = impl->a.get();
  if (a == nullptr) return Error(ErrorKind::io, "cannot create a libarchive writer");
  int r = ARCHIVE_OK;
  const char* module = nullptr;
  switch (c) {
    case Compression::zstd: r = archive_write_add_filter_zstd(a); module = "zstd"; break;
    case Compression::xz: r = archive_write_add_filter_xz(a); module = "xz"; break;
    case Compression::bzip2: r = archive_write_add_filter_bzip2(a); module = "bzip2"; break;
    case Compression::gzip:  // taken by ISA-L above
    case Compression::none: r = archive_write_add_filter_none(a); break;
  }
  if (r != ARCHIVE_OK) {
    return Error(ErrorKind::unsupported, std::string("this libarchive cannot write ") +
                                             std::string(to_string(c)) + ": " + archive_message(a, "?"));
  }
  if (module != nullptr && level >= 0) {
    const std::string v = std::to_string(level);
    if (archive_write_set_filter_option(a, module, "compression-level", v.c_str()) != ARCHIVE_OK) {
      return Error(ErrorKind::invalid_argument, "compression level " + v + " is not valid for " + module +
                                                    " (" + archive_message(a, "rejected") + ")");
    }
  }
  // zstd and xz take a "threads" option. hpn resolves 0 (one per core) itself:
  // libarchive's zstd reads 0 as no worker (compress on the calling thread).
  const int workers = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if ((c == Compression::zstd || c == Compression::xz) && workers > 1) {
    const std::string v = std::to_string(workers);
    if (archive_write_set_filter_option(a, module, "threads", v.c_str()) != ARCHIVE_OK) {
      hpn::log::get("archive").debug("libarchive ignores {} threads; compressing on one thread", module);
    }
  }
  archive_write_set_format_raw(a);
  archive_write_set_bytes_per_block(a, 0);  // hand output on as it is produced
  if (archive_write_open2(a, impl.get(), nullptr, &Impl::on_write, nullptr, nullptr) != ARCHIVE_OK) {
    return impl->failure("cannot start compression");
  }
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), "image.tar");
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0600);
  if (archive_write_header(a, entry.get()) != ARCHIVE_OK) {
    return impl->failure("cannot start compression");
  }
  return Compressor(std::move(impl));
}

Status Compressor::write(std::string_view data) {
  if (impl_->gzip) return impl_->gzip->write(data);
  while (!data.empty()) {
    la_ssize_t n = archive_write_data(impl_->a.get(), data.data(), data.size());
    if (n < 0) return impl_->failure("compression");
    if (n == 0) return impl_->failure("compression made no progress");
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status Compressor::finish() {
  if (impl_->finished) return {};
  impl_->finished = true;
  if (impl_->gzip) return impl_->gzip->finish();
  if (archive_write_close(impl_->a.get()) != ARCHIVE_OK) return impl_->failure("finishing compression");
  return {};
}

// ---- DecompressingReader ---------------------------------------------------------

namespace {

// gzip through ISA-L's inflate, which checks each member's CRC-32 and length against
// its trailer (libarchive's gzip reader does not). Members follow one another
// (pigz, concatenated files); bytes after the last member that do not start
// another one are ignored, as gzip(1) and libarchive do.
class GzipInflater {
 public:
  explicit GzipInflater(util::FileReader file) : file_(std::move(file)), in_(k_in) {}

  // Decompressed bytes into `buf`, 0 at the end; an error is the reason.
  Result<std::size_t> read(std::span<char> buf) {
    if (done_ || buf.empty()) return std::size_t{0};
    for (;;) {
      if (avail() < 2 && !file_eof_) {
        if (auto st = refill(); !st) return st.error();
      }
      if (between_) {
        // Another member, or the end of the data.
        if (avail() < 2 || in_[at_] != '\x1f' || in_[at_ + 1] != '\x8b') {
          done_ = true;
          return std::size_t{0};
        }
        inflate_.reset();
        between_ = false;
      }
      if (avail() == 0) return Error(ErrorKind::invalid_argument, "gzip: the file ends inside a member");
      std::size_t used = 0;
      auto step = inflate_.run(std::span<const char>(in_.data() + at_, avail()), used, buf);
      if (!step) return step.error();
      at_ += used;
      if (step->member_end) between_ = true;
      if (step->produced > 0) return step->produced;
      if (used == 0 && !step->member_end && file_eof_) {
        return Error(ErrorKind::invalid_argument, "gzip: the file ends inside a member");
      }
      if (used == 0 && !step->member_end && !file_eof_) {
        if (auto st = refill(); !st) return st.error();
      }
    }
  }

  std::uint64_t consumed() const { return read_ - avail(); }

 private:
  static constexpr std::size_t k_in = 256 * 1024;

  std::size_t avail() const { return end_ - at_; }

  // Moves what is left of the input to the front and reads more after it.
  Status refill() {
    const std::size_t left = avail();
    if (left > 0 && at_ > 0) std::memmove(in_.data(), in_.data() + at_, left);
    at_ = 0;
    end_ = left;
    auto n = file_.read(std::span<char>(in_.data() + left, in_.size() - left));
    if (!n) return n.error();
    if (*n == 0) file_eof_ = true;
    read_ += *n;
    end_ += *n;
    return {};
  }

  util::FileReader file_;
  std::vector<char> in_;
  std::size_t at_ = 0;   // next unread byte of in_
  std::size_t end_ = 0;  // end of the bytes read into in_
  igzip::Inflate inflate_;
  bool between_ = false;  // a member has ended; another may follow
  bool file_eof_ = false;
  bool done_ = false;
  std::uint64_t read_ = 0;  // bytes read from the file
};

}  // namespace

struct DecompressingReader::Impl {
  std::filesystem::path path;
  Compression compression = Compression::none;
  std::uint64_t size = 0;
  std::optional<util::FileReader> plain;                 // uncompressed: read directly
  std::unique_ptr<GzipInflater> gzip;                    // gzip: ISA-L, trailers checked
  std::unique_ptr<struct archive, ReadFree> a;           // other codecs: libarchive
  bool eof = false;
  std::uint64_t plain_read = 0;
};

DecompressingReader::DecompressingReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DecompressingReader::DecompressingReader(DecompressingReader&&) noexcept = default;
DecompressingReader& DecompressingReader::operator=(DecompressingReader&&) noexcept = default;
DecompressingReader::~DecompressingReader() = default;

Result<DecompressingReader> DecompressingReader::open(const std::filesystem::path& path) {
  auto file = util::FileReader::open(path);
  if (!file) return file.error();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->size = file->size();
  char head[8] = {};
  auto n = file->read(std::span<char>(head, sizeof head));
  if (!n) return n.error();
  impl->compression = detect_compression(std::string_view(head, *n));
  if (impl->compression == Compression::none) {
    auto again = util::FileReader::open(path);  // restart at byte 0
    if (!again) return again.error();
    impl->plain.emplace(std::move(*again));
    return DecompressingReader(std::move(impl));
  }
  if (impl->compression == Compression::gzip) {
    auto again = util::FileReader::open(path);
    if (!again) return again.error();
    impl->gzip = std::make_unique<GzipInflater>(std::move(*again));
    return DecompressingReader(std::move(impl));
  }
  impl->a.reset(archive_read_new());
  struct archive* a = impl->a.get();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  if (archive_read_open_filename(a, path.c_str(), 128 * 1024) != ARCHIVE_OK) {
    return Error(ErrorKind::io, "cannot read " + path.string() + ": " + archive_message(a, "open failed"));
  }
  archive_entry* entry = nullptr;
  if (archive_read_next_header(a, &entry) != ARCHIVE_OK) {
    return Error::about(ErrorKind::invalid_argument, path.string(),
                        " is not a readable " + std::string(to_string(impl->compression)) + " archive (" +
                            archive_message(a, "bad header") + ")");
  }
  return DecompressingReader(std::move(impl));
}

Result<std::size_t> DecompressingReader::read(std::span<char> buf) {
  if (impl_->plain) {
    auto n = impl_->plain->read(buf);
    if (n) impl_->plain_read += *n;
    return n;
  }
  if (impl_->gzip) {
    auto n = impl_->gzip->read(buf);
    if (!n) {
      return Error::about(n.error().kind, impl_->path.string(), " is corrupt or truncated (" + n.error().message + ")");
    }
    return n;
  }
  if (impl_->eof) return std::size_t{0};
  la_ssize_t n = archive_read_data(impl_->a.get(), buf.data(), buf.size());
  if (n < 0) {
    return Error::about(ErrorKind::invalid_argument, impl_->path.string(),
                        " is corrupt or truncated (" + std::string(to_string(impl_->compression)) + ": " +
                            archive_message(impl_->a.get(), "read error") + ")");
  }
  if (n == 0) impl_->eof = true;
  return static_cast<std::size_t>(n);
}

Compression DecompressingReader::compression() const { return impl_->compression; }
std::uint64_t DecompressingReader::file_size() const { return impl_->size; }

std::uint64_t DecompressingReader::bytes_consumed() const {
  if (impl_->plain) return impl_->plain_read;
  if (impl_->gzip) return impl_->gzip->consumed();
  const la_int64_t n = archive_filter_bytes(impl_->a.get(), -1);
  return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

// ---- LayerGzip ----------------------------------------------------------------

struct LayerGzip::Impl {
  igzip::Deflate deflate;
};

LayerGzip::LayerGzip(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LayerGzip::LayerGzip(LayerGzip&&) noexcept = default;
LayerGzip& LayerGzip::operator=(LayerGzip&&) noexcept = default;
LayerGzip::~LayerGzip() = default;

Result<LayerGzip> LayerGzip::open(int level, Output out) {
  auto d = igzip::Deflate::open(igzip::level_for(level, 1), std::move(out));
  if (!d) return d.error();
  return LayerGzip(std::make_unique<Impl>(Impl{std::move(*d)}));
}

Status LayerGzip::write(std::string_view data) { return impl_->deflate.write(data); }

Status LayerGzip::finish() { return impl_->deflate.finish(); }

}  // namespace hpn::archive
