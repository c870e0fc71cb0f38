// Archives: compression, sidecars, incremental saves, bundles, free space, ls -p,
// against the real dockerd and Podman.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <csignal>
#include <thread>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <zlib.h>

#include "hpn/archive/archive_info.hpp"
#include "hpn/engine/client.hpp"
#include "hpn/image/reference.hpp"
#include "support/registry_fixtures.hpp"
#include "support/tar_util.hpp"
#include "support/testenv.hpp"

using hpn::test::CommandResult;
using hpn::test::env;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::TempDir;
namespace fs = std::filesystem;

namespace {

CommandResult run_hpn(const TempDir& cwd, const std::string& args, const std::string& host = {}) {
  return hpn::test::run_hpn(cwd.path(), args, host);
}

// A throwaway tag of `source` so removing it cannot disturb other tests.
std::string fresh_tag(hpn::engine::Client& c, const std::string& source, const std::string& name) {
  EXPECT_TRUE(c.tag(source, "hpn-test/" + name, "1").ok());
  return "hpn-test/" + name + ":1";
}

}  // namespace

TEST(Archives, EveryCodecRoundTripsThroughDockerAndPodman) {
  auto docker = hpn::test::connect_docker();
  auto podman = hpn::test::connect_podman();
  for (const char* codec : {"none", "gzip", "zstd", "xz"}) {
    SCOPED_TRACE(codec);
    TempDir dir;
    const std::string img = fresh_tag(docker, "hpn-test/multi:1", std::string("codec-") + codec);
    const auto before = *docker.inspect_image(img);
    const std::string id = before.id;
    auto save = run_hpn(dir, std::string("save --compress ") + codec + " " + img);
    ASSERT_EQ(save.exit_code, 0) << save.out << save.err;
    // The containerd image store exports layers compressed: hpn writes a plain tar.
    const std::string suffix = hpn::test::saved_suffix(codec);
    const fs::path file = dir / ("images/hpn-test_codec-" + std::string(codec) + "_1" + suffix);
    ASSERT_TRUE(fs::exists(file)) << file;
    ASSERT_TRUE(fs::exists(file.string() + ".sha256"));
    EXPECT_EQ(*hpn::archive::verify_sidecar(file), hpn::archive::Checksum::ok);
    if (std::string(codec) != "none") {
      EXPECT_LT(fs::file_size(file), 28u << 20);  // half of each layer is compressible
    }
    ASSERT_TRUE(docker.remove(img).ok());
    auto load = run_hpn(dir, "load " + shell_quote(file.string()));
    ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
    auto back = docker.inspect_image(img);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->id, id);
    (void)podman.remove(img);
    auto pload = run_hpn(dir, "load " + shell_quote(file.string()), env("HPN_TEST_PODMAN_HOST"));
    ASSERT_EQ(pload.exit_code, 0) << pload.out << pload.err;
    auto in_podman = podman.inspect_image(img);
    ASSERT_TRUE(in_podman.ok()) << in_podman.error().message;
    EXPECT_TRUE(hpn::test::same_image(*in_podman, before)) << in_podman->id << " " << id;
    ASSERT_TRUE(docker.remove(img).ok());
    (void)podman.remove(img);
  }
}

// An archive saved from the daemon under test loads into every other daemon of the
// environment (the three Docker daemons and Podman) to the same image: same layers,
// same creation time, whatever each store calls its ID. Run once per Docker daemon,
// this covers every pair.
TEST(Archives, ArchiveFromThisDaemonLoadsIntoEveryOtherDaemonToTheSameImage) {
  TempDir dir;
  auto docker = hpn::test::connect_docker();
  const std::string img = fresh_tag(docker, "hpn-test/multi:1", "cross-" + hpn::test::docker_daemon());
  const auto before = *docker.inspect_image(img);
  auto save = run_hpn(dir, "save --compress zstd -p out " + img);
  ASSERT_EQ(save.exit_code, 0) << save.out << save.err;
  const auto files = hpn::test::files_in(dir / "out");
  ASSERT_EQ(files.size(), 2u);  // the archive and its sidecar
  const fs::path file = dir / "out" / files[0];
  for (const char* var : {"HPN_TEST_DOCKER20_HOST", "HPN_TEST_DOCKER28_HOST", "HPN_TEST_DOCKER28C_HOST", "HPN_TEST_PODMAN_HOST"}) {
    const std::string host = env(var);
    ASSERT_FALSE(host.empty()) << var;
    SCOPED_TRACE(var);
    auto ep = hpn::engine::parse_host(host, var);
    ASSERT_TRUE(ep.ok());
    auto other = hpn::engine::Client::connect(*ep);
    ASSERT_TRUE(other.ok()) << other.error().message;
    if (host != env("HPN_TEST_DOCKER_HOST")) (void)other->remove(img, true);
    auto load = run_hpn(dir, "load " + shell_quote(file.string()), host);
    ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
    auto after = other->inspect_image(img);
    ASSERT_TRUE(after.ok()) << after.error().message;
    EXPECT_TRUE(hpn::test::same_image(*after, before)) << after->id << " " << before.id;
    if (host != env("HPN_TEST_DOCKER_HOST") && host != env("HPN_TEST_PODMAN_HOST")) (void)other->remove(img, true);
  }
  // And back: Podman's archive of it loads into this daemon to the same image.
  auto psave = run_hpn(dir, "save -p podman " + img, env("HPN_TEST_PODMAN_HOST"));
  ASSERT_EQ(psave.exit_code, 0) << psave.out << psave.err;
  (void)hpn::test::connect_podman().remove(img, true);
  ASSERT_TRUE(docker.remove(img, true).ok());
  auto pload = run_hpn(dir, "load -p podman");
  ASSERT_EQ(pload.exit_code, 0) << pload.out << pload.err;
  // Podman names an image it got from a legacy archive localhost/NAME, and saves it so.
  auto back = docker.inspect_image(img);
  const bool local = !back.ok();
  if (local) back = docker.inspect_image("localhost/" + img);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << pload.out;
  EXPECT_TRUE(hpn::test::same_image(*back, before)) << back->id << " " << before.id;
  (void)docker.remove(local ? "localhost/" + img : img, true);
  (void)hpn::test::connect_podman().remove(img, true);
}

TEST(Archives, WrongSidecarAndCorruptArchiveAreRejectedNamingTheFileWhileOthersLoad) {
  TempDir dir;
  ASSERT_EQ(run_hpn(dir, "save --compress zstd hpn-test/small:1 hpn-test/base:1").exit_code, 0);
  const std::string zst = "images/hpn-test_small_1" + hpn::test::saved_suffix("zstd");
  const fs::path small = dir / zst;
  std::ofstream(small.string() + ".sha256") << std::string(64, '0');
  auto r = run_hpn(dir, "load -p images");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find(zst + " does not match its checksum " + zst + ".sha256"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Summary: 1 successful, 1 failed"), std::string::npos) << r.out;
  auto skip = run_hpn(dir, "load --skip-verify " + shell_quote(small.string()));
  EXPECT_EQ(skip.exit_code, 0) << skip.out;

  // Flip bytes in the middle of an archive: its sidecar catches it before any byte
  // reaches the daemon.
  ASSERT_EQ(run_hpn(dir, "save --compress gzip hpn-test/small:1").exit_code, 0);
  const fs::path gz = dir / ("images/hpn-test_small_1" + hpn::test::saved_suffix("gzip"));
  {
    std::fstream f(gz, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(gz) / 2));
    f.write("CORRUPTCORRUPTCORRUPT", 21);
  }
  auto bad = run_hpn(dir, "load " + shell_quote(gz.string()));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find(gz.string() + " does not match its checksum"), std::string::npos) << bad.out;
  // Without the sidecar the load still fails (hpn finds a blob that does not match
  // its digest or data that does not match the gzip CRC-32, or the daemon rejects
  // the damaged tar), and the message names the file.
  fs::remove(gz.string() + ".sha256");
  auto unguarded = run_hpn(dir, "load " + shell_quote(gz.string()));
  EXPECT_EQ(unguarded.exit_code, 1);
  EXPECT_NE(unguarded.out.find("\u2717 " + gz.string() + ": "), std::string::npos) << unguarded.out;
  EXPECT_TRUE(unguarded.out.find(gz.string() + ": daemon_error: load: ") != std::string::npos ||
              unguarded.out.find(gz.string() + ": invalid_argument: the archive is damaged: its member ") != std::string::npos ||
              unguarded.out.find(gz.string() + ": invalid_argument: the archive is corrupt or truncated (gzip: ") != std::string::npos)
      << unguarded.out;
  // The failure line names the file once.
  const auto from = unguarded.out.find("\u2717 ");
  ASSERT_NE(from, std::string::npos);
  const std::string line = unguarded.out.substr(from, unguarded.out.find('\n', from) - from);
  EXPECT_EQ(line.find(gz.string(), line.find(gz.string()) + 1), std::string::npos) << line;
}

// A member named after its digest (an OCI blob, a legacy config) that does not match
// it stops the load before the daemon commits anything, on every store: the
// containerd image store would otherwise keep its own copy of a blob it already
// holds and report success.
TEST(Archives, BlobThatDoesNotMatchItsDigestIsRefusedAndNothingIsTagged) {
  TempDir dir;
  auto docker = hpn::test::connect_docker();
  const std::string img = fresh_tag(docker, "hpn-test/small:1", "damaged");
  ASSERT_EQ(run_hpn(dir, "save -p d " + img).exit_code, 0);
  const fs::path f = dir / "d/hpn-test_damaged_1.tar";
  fs::remove(f.string() + ".sha256");
  // The first member named by a digest with some content: flip its first byte.
  std::string bytes = hpn::test::slurp(f);
  std::size_t pos = 0, target = std::string::npos;
  std::string member;
  while (pos + 512 <= bytes.size() && bytes[pos] != '\0') {
    const std::string name(bytes.data() + pos, strnlen(bytes.data() + pos, 100));
    const auto size = std::stoull(std::string(bytes.data() + pos + 124, 11), nullptr, 8);
    const bool digest_named = name.rfind("blobs/sha256/", 0) == 0 || (name.size() == 69 && name.ends_with(".json"));
    if (digest_named && size > 0 && bytes[pos + 156] == '0') {
      target = pos + 512;
      member = name;
      break;
    }
    pos += 512 + (size + 511) / 512 * 512;
  }
  ASSERT_NE(target, std::string::npos) << "no digest-named member in " << f;
  bytes[target] = static_cast<char>(bytes[target] ^ 0x20);
  hpn::test::write_file(f, bytes);
  ASSERT_TRUE(docker.remove(img).ok());
  auto r = run_hpn(dir, "load " + shell_quote(f.string()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find(f.string() + ": invalid_argument: the archive is damaged: its member " + member +
                       " does not match the digest in its name"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(docker.inspect_image(img).ok()) << img << " was tagged from a damaged archive";
}

// A gzip file stores bytes that do not compress as they are, so a byte changed
// there still decompresses, and the daemon cannot tell when it is one it reads
// but does not hash: here the image's name in manifest.json. Only the CRC-32 in
// the gzip trailer catches it, before the daemon is sent the archive's end.
TEST(Archives, GzipArchiveWhoseNameWasAlteredFailsOnItsCrcAndNothingIsTagged) {
  TempDir dir;
  auto docker = hpn::test::connect_docker();
  const std::string img = fresh_tag(docker, "hpn-test/small:1", "crc-victim");
  const std::string altered = "hpn-test/crc-victin:1";
  ASSERT_EQ(run_hpn(dir, "save -p d " + img).exit_code, 0);
  const fs::path plain = dir / "d/hpn-test_crc-victim_1.tar";
  const std::string tar = hpn::test::slurp(plain);
  // Stored deflate blocks only (level 0), as gzip writes for data it cannot shrink.
  std::string gz(tar.size() + tar.size() / 1000 + 4096, '\0');
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 0, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(tar.data()));
  z.avail_in = static_cast<uInt>(tar.size());
  z.next_out = reinterpret_cast<Bytef*>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  gz.resize(z.total_out);
  deflateEnd(&z);
  std::size_t changed = 0;
  for (auto at = gz.find("crc-victim"); at != std::string::npos; at = gz.find("crc-victim", at + 1)) {
    gz[at + 9] = 'n';
    ++changed;
  }
  ASSERT_GT(changed, 0u) << "the name is not in the stored bytes";
  const fs::path f = dir / "d/hpn-test_crc-victim_1.tar.gz";
  hpn::test::write_file(f, gz);
  ASSERT_TRUE(docker.remove(img).ok());
  auto r = run_hpn(dir, "load " + shell_quote(f.string()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  // The check before the load reads the whole archive: nothing reaches the daemon.
  EXPECT_NE(r.out.find("\u2717 " + f.string() +
                       ": invalid_argument: the archive is corrupt or truncated (gzip: the data does not match the CRC-32 in its trailer)"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(docker.inspect_image(altered).ok()) << altered << " was tagged from a damaged archive";
  EXPECT_FALSE(docker.inspect_image(img).ok());
  (void)docker.remove(altered, true);
}

TEST(Archives, TruncatedArchiveFailsCleanly) {
  TempDir dir;
  ASSERT_EQ(run_hpn(dir, "save hpn-test/multi:1 -p t").exit_code, 0);
  const fs::path f = dir / "t/hpn-test_multi_1.tar";
  fs::remove(f.string() + ".sha256");
  fs::resize_file(f, fs::file_size(f) / 2);
  auto r = run_hpn(dir, "load " + shell_quote(f.string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("\u2717 " + f.string()), std::string::npos) << r.out;
  auto ls = run_hpn(dir, "ls -p t");
  EXPECT_EQ(ls.exit_code, 1);
  EXPECT_NE(ls.out.find("unreadable"), std::string::npos) << ls.out;
}

TEST(Archives, SecondRunWithNothingChangedSavesNothing) {
  TempDir dir;
  auto docker = hpn::test::connect_docker();
  const std::string img = fresh_tag(docker, "hpn-test/small:1", "incremental");
  ASSERT_EQ(run_hpn(dir, "save --compress zstd " + img + " hpn-test/base:1").exit_code, 0);
  const fs::path f = dir / ("images/hpn-test_incremental_1" + hpn::test::saved_suffix("zstd"));
  // A dry run names the file the real run writes.
  auto dry = run_hpn(dir, "save --dry-run --compress zstd " + img);
  EXPECT_NE(dry.out.find("-> ./images/hpn-test_incremental_1" + hpn::test::saved_suffix("zstd") + "\n"), std::string::npos)
      << dry.out;
  const auto mtime = fs::last_write_time(f);
  auto again = run_hpn(dir, "save --compress zstd " + img + " hpn-test/base:1");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("(2 unchanged)"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("already exists and verified"), std::string::npos) << again.out;
  EXPECT_EQ(fs::last_write_time(f), mtime);
  // The image changes: it is saved again.
  ASSERT_TRUE(docker.tag("hpn-test/multi:1", "hpn-test/incremental", "1").ok());
  auto changed = run_hpn(dir, "save --compress zstd " + img);
  ASSERT_EQ(changed.exit_code, 0);
  EXPECT_EQ(changed.out.find("unchanged"), std::string::npos) << changed.out;
  EXPECT_NE(fs::last_write_time(f), mtime);
  // --force saves even when unchanged.
  auto forced = run_hpn(dir, "save --compress zstd --force " + img);
  EXPECT_EQ(forced.out.find("unchanged"), std::string::npos) << forced.out;
  ASSERT_TRUE(docker.remove(img).ok());
}

TEST(Archives, BundleStoresSharedLayersOnceAndLoadsEveryTag) {
  TempDir dir;
  auto docker = hpn::test::connect_docker();
  const std::string a = fresh_tag(docker, "hpn-test/small:1", "bundle-a");
  const std::string b = fresh_tag(docker, "hpn-test/multi:1", "bundle-b");
  ASSERT_EQ(run_hpn(dir, "save " + a + " " + b).exit_code, 0);
  auto r = run_hpn(dir, "save --bundle all.tar " + a + " " + b);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto singles = fs::file_size(dir / "images/hpn-test_bundle-a_1.tar") + fs::file_size(dir / "images/hpn-test_bundle-b_1.tar");
  EXPECT_LT(fs::file_size(dir / "all.tar"), singles);  // the busybox base layer is stored once
  auto info = hpn::archive::read_archive_info(dir / "all.tar");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->images.size(), 2u);
  ASSERT_TRUE(docker.remove(a).ok());
  ASSERT_TRUE(docker.remove(b).ok());
  auto load = run_hpn(dir, "load all.tar");
  ASSERT_EQ(load.exit_code, 0) << load.out;
  EXPECT_TRUE(docker.inspect_image(a).ok());
  EXPECT_TRUE(docker.inspect_image(b).ok());
  auto zst = run_hpn(dir, "save --bundle all.tar.zst --compress zstd " + a + " " + b);
  ASSERT_EQ(zst.exit_code, 0);
  EXPECT_LT(fs::file_size(dir / "all.tar.zst"), fs::file_size(dir / "all.tar"));
  ASSERT_TRUE(docker.remove(a).ok());
  ASSERT_TRUE(docker.remove(b).ok());
}

TEST(Archives, LsPathShowsTagsIdCompressionAndChecksum) {
  TempDir dir;
  ASSERT_EQ(run_hpn(dir, "save --compress gzip hpn-test/small:1").exit_code, 0);
  auto id = hpn::test::connect_docker().inspect_image("hpn-test/small:1")->id.substr(7, 12);
  auto r = run_hpn(dir, "ls -p images");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("images/hpn-test_small_1" + hpn::test::saved_suffix("gzip")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(hpn::test::containerd_store() ? "none" : "gzip"), std::string::npos);
  EXPECT_NE(r.out.find(" ok "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hpn-test/small:1 " + id), std::string::npos) << r.out;
}

TEST(Archives, NotEnoughFreeSpaceStopsEarlyAndFullDiskIsReported) {
  TempDir dir;
  fs::create_directories(dir / "small");
  ASSERT_EQ(::mount("tmpfs", (dir / "small").c_str(), "tmpfs", 0, "size=8m"), 0)
      << "mounting a tmpfs needs root (CI runs as root)";
  auto r = run_hpn(dir, "save -p small hpn-test/multi:1 hpn-test/small:1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not enough space on small"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dir / "small"));
  if (hpn::test::containerd_store()) {
    // There --compress writes plain tars (the layers are compressed already), whose
    // size is known: the check stops it too.
    auto z = run_hpn(dir, "save --compress zstd -j 1 -p small hpn-test/multi:1 hpn-test/small:1");
    EXPECT_EQ(z.exit_code, 1);
    EXPECT_NE(z.err.find("not enough space on small"), std::string::npos) << z.err;
    EXPECT_TRUE(fs::is_empty(dir / "small"));
    ::umount2((dir / "small").c_str(), MNT_DETACH);
    return;
  }
  // Compressed saves are not checked in advance; the full disk fails the big image
  // with a clear message, removes its partial, and the small one still succeeds.
  auto z = run_hpn(dir, "save --compress zstd -j 1 -p small hpn-test/multi:1 hpn-test/small:1");
  EXPECT_EQ(z.exit_code, 1) << z.out;
  // The image's result line names the image, the kind and the file. (The disk may
  // fill while the stream arrives or when the compressor flushes at the end, which
  // with zstd's worker threads is the usual case; the message is the same either way
  // but for the "save IMAGE:" context of the first.)
  const auto failed = z.out.find("hpn-test/multi:1: no_space: ");
  ASSERT_NE(failed, std::string::npos) << z.out;
  const std::string line = z.out.substr(failed, z.out.find('\n', failed) - failed);
  EXPECT_NE(line.find("no space left on small/hpn-test_multi_1.tar.zst.part"), std::string::npos) << line;
  EXPECT_FALSE(fs::exists(dir / "small/hpn-test_multi_1.tar.zst.part"));
  EXPECT_FALSE(fs::exists(dir / "small/hpn-test_multi_1.tar.zst"));
  EXPECT_TRUE(fs::exists(dir / "small/hpn-test_small_1.tar.zst"));
  ::umount2((dir / "small").c_str(), MNT_DETACH);
}

// Small images are exported several per request and the export split here: every
// archive must hold exactly what the daemon's export of that image alone holds.
TEST(Archives, SmallImagesExportedTogetherMatchTheirOwnExportsAndLoadBack) {
  TempDir dir;
  auto docker = hpn::test::connect_docker();
  const std::string dh = "docker -H " + shell_quote(env("HPN_TEST_DOCKER_HOST"));
  // A tiny base and two images on it (in a joint export the base layer is stored
  // once and linked from the other copies), a second tag of one, two unrelated ones.
  ASSERT_EQ(run_command("cd " + shell_quote(dir.path().string()) +
                        " && mkdir -p r b1 b2 && echo base > r/base && tar -C r -cf - base | " + dh +
                        " import - hpn-grp/base:1 >/dev/null && for i in 1 2; do echo $i > b$i/f && "
                        "printf 'FROM hpn-grp/base:1\\nCOPY f /f\\n' > b$i/Dockerfile && DOCKER_BUILDKIT=0 " + dh +
                        " build -q -t hpn-grp/child$i:1 b$i >/dev/null 2>&1 || exit 1; done && " + dh +
                        " tag hpn-grp/child1:1 hpn-grp/child1:alias && for i in 1 2; do echo t$i > r/t && "
                        "tar -C r -cf - t | " + dh + " import - hpn-grp/tiny$i:1 >/dev/null || exit 1; done")
                .exit_code,
            0);
  const std::vector<std::string> names = {"hpn-grp/base:1",        "hpn-grp/child1:1", "hpn-grp/child2:1",
                                          "hpn-grp/child1:alias", "hpn-grp/tiny1:1",  "hpn-grp/tiny2:1"};
  std::string args;
  for (const auto& n : names) args += " " + n;
  auto r = run_hpn(dir, "save -j 1 --log-level debug -p out" + args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // One request for all six (one worker: one group), none alone.
  std::size_t joint = 0, alone = 0;
  std::istringstream err(r.err);
  for (std::string line; std::getline(err, line);) {
    if (line.find("request GET /v" + hpn::test::docker_negotiated_api() + "/images/get?") == std::string::npos) continue;
    std::size_t count = 0;
    for (auto p = line.find("names="); p != std::string::npos; p = line.find("names=", p + 1)) ++count;
    (count > 1 ? joint : alone) += 1;
    if (count > 1) {
      EXPECT_EQ(count, names.size()) << line;
    }
  }
  EXPECT_EQ(joint, 1u) << r.err;
  EXPECT_EQ(alone, 0u) << r.err;
  std::map<std::string, std::string> ids;
  for (const auto& n : names) {
    const auto own = dir / ("alone-" + hpn::image::archive_stem(n) + ".tar");
    {
      std::ofstream f(own, std::ios::binary);
      auto s = docker.save(std::vector<std::string>{n}, [&](std::string_view c) -> hpn::Status {
        f.write(c.data(), static_cast<std::streamsize>(c.size()));
        return {};
      });
      ASSERT_TRUE(s.ok()) << n;
    }
    const auto mine = dir / "out" / (hpn::image::archive_stem(n) + ".tar");
    const auto expected = hpn::test::tar_member_digests(own);
    EXPECT_GE(expected.size(), 5u) << n;  // VERSION, json, layer.tar, config, manifest.json
    EXPECT_EQ(hpn::test::tar_member_digests(mine), expected) << n;
    auto info = docker.inspect_image(n);
    ASSERT_TRUE(info.ok()) << n;
    ids[n] = info->id;
  }
  // Loaded into a daemon that lacks them, they come back as they were.
  ASSERT_EQ(run_command(dh + " rmi -f" + args + " >/dev/null").exit_code, 0);
  auto load = run_hpn(dir, "load out");
  ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
  for (const auto& n : names) {
    auto info = docker.inspect_image(n);
    ASSERT_TRUE(info.ok()) << n;
    EXPECT_EQ(info->id, ids[n]) << n;
  }
  run_command(dh + " rmi -f" + args + " >/dev/null 2>&1");
}

// Archives whose members could be written outside where they are unpacked are
// refused by name, before a byte reaches the daemon: the debug log shows no load
// request, and the daemon has no such image.
TEST(Archives, HostileArchivesAreRefusedByNameWithNothingSentToTheDaemon) {
  auto docker = hpn::test::connect_docker();
  TempDir dir;
  const std::string pid = std::to_string(getpid());
  for (const auto& h : hpn::test::hostile_kinds()) {
    SCOPED_TRACE(h.kind);
    const std::string name = "hpn-evil/" + h.kind + "-" + pid + ":1";
    const fs::path file = dir / (h.kind + ".tar");
    hpn::test::make_archive(h.kind, name, file);
    auto r = run_hpn(dir, "--log-level debug load " + shell_quote(file.string()));
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("\u2717 " + file.string() + ": invalid_argument: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(h.member), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(h.rule), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find("/images/load"), std::string::npos) << "a load request was sent:\n" << r.err;
    EXPECT_FALSE(docker.inspect_image(name).ok()) << name << " was loaded";
  }
  // The same archive without the hostile part loads: the refusals above are the rule's.
  const std::string good = "hpn-evil/good-" + pid + ":1";
  const std::string id = hpn::test::make_archive("good", good, dir / "good.tar");
  auto ok = run_hpn(dir, "load " + shell_quote((dir / "good.tar").string()));
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto info = docker.inspect_image(good);
  ASSERT_TRUE(info.ok()) << ok.out;
  EXPECT_TRUE(docker.remove(good).ok());
}

// Entries of a load directory that are not archives are each failed by name (a
// symbolic link loop, a dangling link, a FIFO, a 2-byte junk.tar) while good.tar
// loads; the walk never aborts the command. ls -p lists them the same way.
TEST(Archives, LoopsFifosDanglingLinksAndJunkInALoadDirectoryFailByNameWhileGoodLoads) {
  auto docker = hpn::test::connect_docker();
  TempDir dir;
  const fs::path d = dir / "in";
  fs::create_directories(d);
  const std::string good = "hpn-evil/walk-" + std::to_string(getpid()) + ":1";
  hpn::test::make_archive("good", good, d / "good.tar");
  fs::create_symlink("loop2.tar", d / "loop1.tar");
  fs::create_symlink("loop1.tar", d / "loop2.tar");
  fs::create_symlink("gone.tar", d / "dangling.tar");
  ASSERT_EQ(::mkfifo((d / "fifo.tar").c_str(), 0600), 0);
  std::ofstream(d / "junk.tar") << "x\n";
  auto r = run_hpn(dir, "load -p in");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\u2713 in/good.tar loaded " + good), std::string::npos) << r.out;
  const std::map<std::string, std::string> why = {{"loop1.tar", "a symbolic link loop"},
                                                  {"loop2.tar", "a symbolic link loop"},
                                                  {"dangling.tar", "a dangling symbolic link"},
                                                  {"fifo.tar", "a FIFO, not a file"}};
  for (const auto& [file, reason] : why) {
    EXPECT_NE(r.out.find("\u2717 in/" + file + ": invalid_argument: " + reason), std::string::npos)
        << file << "\n" << r.out;
  }
  // junk.tar fails with the words it gets when named directly.
  const std::string junk_words = "in/junk.tar is not an image archive (no tar header at its start)";
  EXPECT_NE(r.out.find("\u2717 in/junk.tar: invalid_argument: " + junk_words), std::string::npos) << r.out;
  auto direct = run_hpn(dir, "load in/junk.tar");
  EXPECT_EQ(direct.exit_code, 2) << direct.out << direct.err;
  EXPECT_NE(direct.err.find(junk_words), std::string::npos) << direct.err;
  EXPECT_NE(r.out.find("Summary: 1 successful, 5 failed of 6 files"), std::string::npos) << r.out;
  EXPECT_TRUE(docker.inspect_image(good).ok());
  EXPECT_TRUE(docker.remove(good).ok());

  auto ls = run_hpn(dir, "ls -p in");
  EXPECT_EQ(ls.exit_code, 1) << ls.out << ls.err;
  EXPECT_EQ(ls.err.find("internal error"), std::string::npos) << ls.err;
  EXPECT_NE(ls.out.find(good), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("a symbolic link loop"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("a FIFO, not a file"), std::string::npos) << ls.out;
}

// A path that cannot serve its role is a usage error (exit 2), as an invalid list is.
TEST(Archives, AFileGivenAsADirectoryOrADirectoryAsAListIsAUsageError) {
  TempDir dir;
  std::ofstream(dir / "afile") << "x";
  auto save = run_hpn(dir, "save -p afile hpn-test/small:1");
  EXPECT_EQ(save.exit_code, 2) << save.out << save.err;
  EXPECT_NE(save.err.find("afile exists and is not a directory"), std::string::npos) << save.err;
  fs::create_directory(dir / "adir");
  auto list = run_hpn(dir, "save -f adir");
  EXPECT_EQ(list.exit_code, 2) << list.out << list.err;
  EXPECT_NE(list.err.find("adir is a directory"), std::string::npos) << list.err;
}

// A save killed while it rewrites (--force) leaves .part files; the next plain run
// finds the archives unchanged and removes them.
TEST(Archives, AKilledForcedSaveLeavesNoPartFileAfterThePlainRerun) {
  TempDir dir;
  const std::string large = env("HPN_TEST_LARGE_IMAGE");
  const std::string list = "hpn-test/small:1\n" + large + "\n";
  std::ofstream(dir / "list") << list;
  auto first = run_hpn(dir, "save -f list -p d --compress zstd");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  auto parts = [&] {
    std::vector<std::string> out;
    for (const auto& f : hpn::test::files_in(dir / "d")) {
      if (f.size() > 5 && f.compare(f.size() - 5, 5, ".part") == 0) out.push_back(f);
    }
    return out;
  };
  hpn::test::HpnRun how;
  how.exec = true;
  const std::string cmd = hpn::test::hpn_command(dir.path(), "save --force -f list -p d --compress zstd >/dev/null 2>&1", how);
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (parts().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  // What a killed run leaves, whenever it is killed: the archive's and the sidecar's parts.
  const std::string archive = "d/" + hpn::image::archive_stem(large) + hpn::test::saved_suffix("zstd");
  std::ofstream(dir / (archive + ".part")) << "partial";
  std::ofstream(dir / (archive + ".sha256.part")) << "partial";
  ASSERT_FALSE(parts().empty());
  auto again = run_hpn(dir, "save -f list -p d --compress zstd");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  // Both found unchanged (or one written again, when the kill fell between the
  // renames of an archive and its sidecar): either way no partial file is left.
  EXPECT_NE(again.out.find("Summary: 2 successful"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("unchanged"), std::string::npos) << again.out;
  EXPECT_TRUE(parts().empty()) << parts()[0];
}
