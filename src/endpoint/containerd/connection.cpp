#include "connection.hpp"

#include <chrono>

#include <google/protobuf/empty.pb.h>
#include <grpcpp/grpcpp.h>

#include "content.grpc.pb.h"
#include "diff.grpc.pb.h"
#include "hpn/util/sha256.hpp"
#include "images.grpc.pb.h"
#include "leases.grpc.pb.h"
#include "snapshots.grpc.pb.h"
#include "version.grpc.pb.h"

namespace hpn::containerd {

namespace content = ::containerd::services::content::v1;
namespace images = ::containerd::services::images::v1;
namespace leases = ::containerd::services::leases::v1;
namespace snapshots = ::containerd::services::snapshots::v1;
namespace diff = ::containerd::services::diff::v1;
namespace version = ::containerd::services::version::v1;

struct Connection::Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<content::Content::Stub> content;
  std::unique_ptr<images::Images::Stub> images;
  std::unique_ptr<leases::Leases::Stub> leases;
  std::unique_ptr<snapshots::Snapshots::Stub> snapshots;
  std::unique_ptr<diff::Diff::Stub> diff;
  std::unique_ptr<version::Version::Stub> version;
};

namespace {

constexpr std::size_t k_chunk = 1 << 20;                  // bytes per write message
constexpr std::size_t k_ahead = 4;                        // chunks sent before their answer is read
constexpr auto k_call_timeout = std::chrono::minutes(2);  // calls that only look something up or name it

ErrorKind kind_of(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND: return ErrorKind::not_found;
    case grpc::StatusCode::ALREADY_EXISTS: return ErrorKind::conflict;
    case grpc::StatusCode::UNAVAILABLE: return ErrorKind::daemon_unreachable;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return ErrorKind::timeout;
    case grpc::StatusCode::CANCELLED: return ErrorKind::cancelled;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED: return ErrorKind::unauthorized;
    case grpc::StatusCode::UNIMPLEMENTED: return ErrorKind::unsupported;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return ErrorKind::no_space;
    default: return ErrorKind::daemon_error;
  }
}

// "containerd at /run/containerd/containerd.sock: writing sha256:...: <its words>"
Error failed(const std::string& socket, const std::string& doing, const grpc::Status& st) {
  return Error(kind_of(st.error_code()), "containerd at " + socket + ": " + doing + ": " + st.error_message());
}

registry::Descriptor from_proto(const ::containerd::types::Descriptor& d) {
  return {.media_type = d.media_type(), .digest = d.digest(), .size = static_cast<std::uint64_t>(d.size())};
}

void to_proto(const registry::Descriptor& d, ::containerd::types::Descriptor* out) {
  out->set_media_type(d.media_type);
  out->set_digest(d.digest);
  out->set_size(static_cast<std::int64_t>(d.size));
}

ImageRecord from_proto(const images::Image& i) {
  ImageRecord r;
  r.name = i.name();
  r.target = from_proto(i.target());
  r.labels.insert(i.labels().begin(), i.labels().end());
  return r;
}

}  // namespace

// A call's context: the namespace always, the lease when one is named, and a
// deadline for calls that should be quick.
class CallContext {
 public:
  CallContext(const std::string& ns, const std::string& lease = {}, bool quick = true) {
    ctx.AddMetadata("containerd-namespace", ns);
    if (!lease.empty()) ctx.AddMetadata("containerd-lease", lease);
    if (quick) ctx.set_deadline(std::chrono::system_clock::now() + k_call_timeout);
  }
  grpc::ClientContext ctx;
};

Connection::~Connection() = default;

Result<std::shared_ptr<Connection>> Connection::open(const std::string& path, std::string ns) {
  std::shared_ptr<Connection> c(new Connection());
  c->socket_ = path;
  c->ns_ = std::move(ns);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(16 << 20);
  c->stubs_ = std::make_unique<Stubs>();
  auto& s = *c->stubs_;
  s.channel = grpc::CreateCustomChannel("unix:" + path, grpc::InsecureChannelCredentials(), args);
  s.content = content::Content::NewStub(s.channel);
  s.images = images::Images::NewStub(s.channel);
  s.leases = leases::Leases::NewStub(s.channel);
  s.snapshots = snapshots::Snapshots::NewStub(s.channel);
  s.diff = diff::Diff::NewStub(s.channel);
  s.version = version::Version::NewStub(s.channel);
  CallContext call(c->ns_);
  call.ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  google::protobuf::Empty req;
  version::VersionResponse resp;
  if (auto st = s.version->Version(&call.ctx, req, &resp); !st.ok()) {
    return failed(path, "asking its version (is containerd running, and is this its socket?)", st);
  }
  c->version_ = resp.version();
  return c;
}

Result<std::optional<ContentInfo>> Connection::info(const std::string& digest) {
  CallContext call(ns_);
  content::InfoRequest req;
  req.set_digest(digest);
  content::InfoResponse resp;
  auto st = stubs_->content->Info(&call.ctx, req, &resp);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return std::optional<ContentInfo>{};
  if (!st.ok()) return failed(socket_, "looking up " + digest, st);
  ContentInfo info{
      .digest = resp.info().digest(), .size = static_cast<std::uint64_t>(resp.info().size()), .labels = {}};
  info.labels.insert(resp.info().labels().begin(), resp.info().labels().end());
  return std::optional<ContentInfo>(std::move(info));
}

Result<std::uint64_t> Connection::read(const std::string& digest, const engine::Sink& sink,
                                       const std::atomic<bool>* flag) {
  CallContext call(ns_, {}, false);
  content::ReadContentRequest req;
  req.set_digest(digest);
  auto reader = stubs_->content->Read(&call.ctx, req);
  content::ReadContentResponse resp;
  std::uint64_t total = 0;
  while (reader->Read(&resp)) {
    if (flag != nullptr && flag->load(std::memory_order_relaxed)) {
      call.ctx.TryCancel();
      reader->Finish();
      return Error(ErrorKind::cancelled, "interrupted");
    }
    if (static_cast<std::uint64_t>(resp.offset()) != total) {
      call.ctx.TryCancel();
      reader->Finish();
      return Error(ErrorKind::protocol, "containerd at " + socket_ + ": reading " + digest + ": a chunk at offset " +
                                            std::to_string(resp.offset()) + " after " + std::to_string(total) +
                                            " bytes");
    }
    total += resp.data().size();
    if (auto st = sink(resp.data()); !st) {
      call.ctx.TryCancel();
      reader->Finish();
      return st.error();
    }
  }
  if (auto st = reader->Finish(); !st.ok()) return failed(socket_, "reading " + digest, st);
  return total;
}

Result<std::string> Connection::write(const std::string& ref, const std::optional<registry::Descriptor>& expected,
                                      const engine::Source& source, const Labels& labels, const std::string& lease,
                                      const std::atomic<bool>* flag) {
  const std::string what = "writing " + (expected ? expected->digest : std::string("a new blob"));
  CallContext call(ns_, lease, false);
  auto stream = stubs_->content->Write(&call.ctx);
  content::WriteContentResponse resp;
  // One request for every chunk: its data buffer is filled in place and reused.
  content::WriteContentRequest req;
  req.set_action(content::WRITE);
  req.set_ref(ref);
  if (expected) {
    req.set_total(static_cast<std::int64_t>(expected->size));
    req.set_expected(expected->digest);
  }
  std::string& buf = *req.mutable_data();
  std::int64_t offset = 0;
  std::size_t owed = 0;  // answers to chunks not read yet
  const auto give_up = [&](Error e) -> Error {
    call.ctx.TryCancel();
    while (stream->Read(&resp)) {
    }
    stream->Finish();
    (void)abort(ref);
    return e;
  };
  for (;;) {
    if (flag != nullptr && flag->load(std::memory_order_relaxed))
      return give_up(Error(ErrorKind::cancelled, "interrupted"));
    // Fill a whole chunk (or reach the end) before sending it.
    std::size_t filled = 0;
    bool end = false;
    buf.resize(k_chunk);
    while (filled < buf.size()) {
      auto n = source(std::span<char>(buf.data() + filled, buf.size() - filled));
      if (!n) return give_up(n.error());
      if (*n == 0) {
        end = true;
        break;
      }
      filled += *n;
    }
    if (filled > 0) {
      req.set_offset(offset);
      buf.resize(filled);
      // containerd answers each chunk once it has written it; hpn reads the next
      // chunk meanwhile, and reads an answer only when k_ahead are owed.
      if (owed == k_ahead) {
        if (!stream->Read(&resp)) break;  // Finish says why
        --owed;
      }
      if (!stream->Write(req)) break;
      ++owed;
      offset += static_cast<std::int64_t>(filled);
    }
    if (end) break;
  }
  content::WriteContentRequest commit;
  commit.set_action(content::COMMIT);
  commit.set_ref(ref);
  commit.set_offset(offset);
  commit.set_total(offset);
  if (expected) commit.set_expected(expected->digest);
  commit.mutable_labels()->insert(labels.begin(), labels.end());
  std::string digest;
  if (stream->Write(commit)) {
    // The answers owed to chunks, then the commit's, which containerd sends twice;
    // all are read before Finish, which would otherwise wait for them.
    while (owed > 0 && stream->Read(&resp)) --owed;
    if (owed == 0 && stream->Read(&resp)) digest = resp.digest();
  }
  stream->WritesDone();
  while (stream->Read(&resp)) {
  }
  auto st = stream->Finish();
  if (st.error_code() == grpc::StatusCode::ALREADY_EXISTS && expected) {
    // Another writer committed it first; the labels go on as an update.
    if (!labels.empty()) {
      if (auto l = label(expected->digest, labels); !l) return l.error();
    }
    return expected->digest;
  }
  if (!st.ok()) {
    (void)abort(ref);
    return failed(socket_, what, st);
  }
  if (digest.empty())
    return Error(ErrorKind::protocol, "containerd at " + socket_ + ": " + what + ": no digest on commit");
  return digest;
}

Status Connection::label(const std::string& digest, const Labels& labels) {
  CallContext call(ns_);
  content::UpdateRequest req;
  req.mutable_info()->set_digest(digest);
  for (const auto& [k, v] : labels) {
    (*req.mutable_info()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths("labels." + k);
  }
  content::UpdateResponse resp;
  if (auto st = stubs_->content->Update(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "labelling " + digest, st);
  }
  return {};
}

Status Connection::abort(const std::string& ref) {
  CallContext call(ns_);
  content::AbortRequest req;
  req.set_ref(ref);
  google::protobuf::Empty resp;
  auto st = stubs_->content->Abort(&call.ctx, req, &resp);
  if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) return failed(socket_, "aborting " + ref, st);
  return {};
}

Result<std::optional<ImageRecord>> Connection::image(const std::string& name) {
  CallContext call(ns_);
  images::GetImageRequest req;
  req.set_name(name);
  images::GetImageResponse resp;
  auto st = stubs_->images->Get(&call.ctx, req, &resp);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return std::optional<ImageRecord>{};
  if (!st.ok()) return failed(socket_, "looking up the image " + name, st);
  return std::optional<ImageRecord>(from_proto(resp.image()));
}

Result<std::vector<ImageRecord>> Connection::images() {
  CallContext call(ns_);
  images::ListImagesRequest req;
  images::ListImagesResponse resp;
  if (auto st = stubs_->images->List(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "listing the images of namespace " + ns_, st);
  }
  std::vector<ImageRecord> out;
  for (const auto& i : resp.images()) out.push_back(from_proto(i));
  return out;
}

Status Connection::put_image(const ImageRecord& record) {
  images::Image image;
  image.set_name(record.name);
  image.mutable_labels()->insert(record.labels.begin(), record.labels.end());
  to_proto(record.target, image.mutable_target());
  {
    CallContext call(ns_);
    images::CreateImageRequest req;
    *req.mutable_image() = image;
    images::CreateImageResponse resp;
    auto st = stubs_->images->Create(&call.ctx, req, &resp);
    if (st.ok()) return {};
    if (st.error_code() != grpc::StatusCode::ALREADY_EXISTS)
      return failed(socket_, "creating the image " + record.name, st);
  }
  CallContext call(ns_);
  images::UpdateImageRequest req;
  *req.mutable_image() = image;
  req.mutable_update_mask()->add_paths("target");
  for (const auto& [k, v] : record.labels) req.mutable_update_mask()->add_paths("labels." + k);
  images::UpdateImageResponse resp;
  if (auto st = stubs_->images->Update(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "pointing the image " + record.name + " at " + record.target.digest, st);
  }
  return {};
}

Status Connection::delete_image(const std::string& name) {
  CallContext call(ns_);
  images::DeleteImageRequest req;
  req.set_name(name);
  google::protobuf::Empty resp;
  if (auto st = stubs_->images->Delete(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "removing the image " + name, st);
  }
  return {};
}

Status Connection::create_lease(const std::string& id, const Labels& labels) {
  CallContext call(ns_);
  leases::CreateRequest req;
  req.set_id(id);
  req.mutable_labels()->insert(labels.begin(), labels.end());
  leases::CreateResponse resp;
  if (auto st = stubs_->leases->Create(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "creating the lease " + id, st);
  }
  return {};
}

Status Connection::delete_lease(const std::string& id) {
  CallContext call(ns_);
  leases::DeleteRequest req;
  req.set_id(id);
  google::protobuf::Empty resp;
  if (auto st = stubs_->leases->Delete(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "deleting the lease " + id, st);
  }
  return {};
}

Result<bool> Connection::snapshot_exists(const std::string& snapshotter, const std::string& key) {
  CallContext call(ns_);
  snapshots::StatSnapshotRequest req;
  req.set_snapshotter(snapshotter);
  req.set_key(key);
  snapshots::StatSnapshotResponse resp;
  auto st = stubs_->snapshots->Stat(&call.ctx, req, &resp);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return false;
  if (!st.ok()) return failed(socket_, "looking up the snapshot " + key + " of " + snapshotter, st);
  return true;
}

Result<std::vector<Mount>> Connection::prepare(const std::string& snapshotter, const std::string& key,
                                               const std::string& parent, const std::string& lease) {
  CallContext call(ns_, lease);
  snapshots::PrepareSnapshotRequest req;
  req.set_snapshotter(snapshotter);
  req.set_key(key);
  req.set_parent(parent);
  snapshots::PrepareSnapshotResponse resp;
  if (auto st = stubs_->snapshots->Prepare(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "preparing a snapshot in " + snapshotter + (parent.empty() ? "" : " on " + parent), st);
  }
  std::vector<Mount> out;
  for (const auto& m : resp.mounts()) {
    out.push_back({m.type(), m.source(), m.target(), {m.options().begin(), m.options().end()}});
  }
  return out;
}

Status Connection::commit(const std::string& snapshotter, const std::string& name, const std::string& key,
                          const std::string& lease) {
  CallContext call(ns_, lease);
  snapshots::CommitSnapshotRequest req;
  req.set_snapshotter(snapshotter);
  req.set_name(name);
  req.set_key(key);
  google::protobuf::Empty resp;
  if (auto st = stubs_->snapshots->Commit(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "committing the snapshot " + name, st);
  }
  return {};
}

Status Connection::remove_snapshot(const std::string& snapshotter, const std::string& key) {
  CallContext call(ns_);
  snapshots::RemoveSnapshotRequest req;
  req.set_snapshotter(snapshotter);
  req.set_key(key);
  google::protobuf::Empty resp;
  auto st = stubs_->snapshots->Remove(&call.ctx, req, &resp);
  if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) {
    return failed(socket_, "removing the snapshot " + key, st);
  }
  return {};
}

Result<std::string> Connection::apply(const registry::Descriptor& layer, const std::vector<Mount>& mounts,
                                      const std::string& lease) {
  CallContext call(ns_, lease, false);
  diff::ApplyRequest req;
  to_proto(layer, req.mutable_diff());
  for (const auto& m : mounts) {
    auto* out = req.add_mounts();
    out->set_type(m.type);
    out->set_source(m.source);
    out->set_target(m.target);
    for (const auto& o : m.options) out->add_options(o);
  }
  diff::ApplyResponse resp;
  if (auto st = stubs_->diff->Apply(&call.ctx, req, &resp); !st.ok()) {
    return failed(socket_, "unpacking the layer " + layer.digest, st);
  }
  return resp.applied().digest();
}

Result<std::string> read_small(Connection& c, const std::string& digest, const std::atomic<bool>* flag) {
  constexpr std::size_t k_limit = 16 << 20;
  std::string body;
  auto n = c.read(
      digest,
      [&](std::string_view chunk) -> Status {
        if (body.size() + chunk.size() > k_limit) {
          return Error(ErrorKind::protocol, "containerd at " + c.socket() + ": " + digest + " is larger than " +
                                                std::to_string(k_limit >> 20) + " MiB; not a manifest or config");
        }
        body.append(chunk);
        return {};
      },
      flag);
  if (!n) return n.error();
  if (const std::string got = "sha256:" + util::sha256_hex(body); got != digest) {
    return Error(ErrorKind::protocol, "containerd at " + c.socket() + ": the content " + digest + " holds " + got +
                                          "; its store is damaged");
  }
  return body;
}

Result<std::optional<std::string>> platform_manifest(Connection& c, const registry::Descriptor& target,
                                                     const std::string& body, const std::string& what,
                                                     const std::atomic<bool>* flag) {
  if (!registry::is_index(target.media_type)) return std::optional<std::string>(body);
  auto entries = registry::parse_index(body, "the index of " + what);
  if (!entries) return entries.error();
  auto pick = registry::pick_platform(*entries, registry::host_platform(), "the index of " + what);
  if (!pick) return std::optional<std::string>{};
  auto m = read_small(c, pick->descriptor.digest, flag);
  if (!m) return m.error();
  return std::optional<std::string>(std::move(*m));
}

}  // namespace hpn::containerd
