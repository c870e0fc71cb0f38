// The member-name rules of image archives and their layer tars, and the directory
// walk that finds archives.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

#include "hpn/archive/member_rules.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/util/tar_header.hpp"
#include "support/testenv.hpp"

namespace {
namespace fs = std::filesystem;
using hpn::archive::MemberRule;
using hpn::archive::TarGuard;

// A ustar header with a name (up to 100 bytes), a type and a link target.
std::string header(const std::string& name, std::uint64_t size, char type = '0', const std::string& link = "") {
  std::string h = hpn::util::tar_member_header(name.size() <= 100 ? name : "x", size, type == '0' ? '0' : '5');
  h[156] = type;
  std::fill(h.begin() + 157, h.begin() + 257, '\0');
  std::copy(link.begin(), link.end(), h.begin() + 157);
  // The checksum again, over the changed header.
  std::fill(h.begin() + 148, h.begin() + 156, ' ');
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char field[8];
  std::snprintf(field, sizeof field, "%06o", sum);
  std::copy(field, field + 7, h.begin() + 148);
  h[155] = ' ';
  return h;
}

std::string member(const std::string& name, const std::string& content, char type = '0', const std::string& link = "") {
  std::string out = header(name, content.size(), type, link) + content;
  out.append(hpn::util::tar_padding(content.size()), '\0');
  return out;
}

std::string end_of_tar() { return std::string(1024, '\0'); }

// A pax header record setting `key` to `value`.
std::string pax(const std::string& key, const std::string& value) {
  std::string rec = " " + key + "=" + value + "\n";
  std::size_t len = rec.size() + 1;
  while (std::to_string(len).size() + rec.size() != len) ++len;
  return member("PaxHeaders/x", std::to_string(len) + rec, 'x');
}

hpn::Status guard_all(const std::string& tar, std::size_t piece = 7) {
  TarGuard g("test.tar");
  for (std::size_t i = 0; i < tar.size(); i += piece) {
    if (auto st = g.feed(std::string_view(tar).substr(i, piece)); !st) return st;
  }
  return {};
}

TEST(MemberRules, NamesAbsoluteAndParentAreRefused) {
  EXPECT_FALSE(hpn::archive::check_member_name("manifest.json"));
  EXPECT_FALSE(hpn::archive::check_member_name("./blobs/sha256/ab"));
  EXPECT_FALSE(hpn::archive::check_member_name("a..b/c.."));
  EXPECT_EQ(hpn::archive::check_member_name("/tmp/x"), MemberRule::absolute_name);
  EXPECT_EQ(hpn::archive::check_member_name("../../etc/x"), MemberRule::parent_component);
  EXPECT_EQ(hpn::archive::check_member_name("a/../../x"), MemberRule::parent_component);
  EXPECT_EQ(hpn::archive::check_member_name("a/.."), MemberRule::parent_component);
}

TEST(MemberRules, ArchiveSymlinksMustStayInside) {
  // Docker 20.10's legacy layout links a shared layer to another image's directory.
  EXPECT_FALSE(hpn::archive::check_archive_symlink("abc/layer.tar", "../def/layer.tar"));
  EXPECT_FALSE(hpn::archive::check_archive_symlink("a/b/c", "../../d"));
  EXPECT_EQ(hpn::archive::check_archive_symlink("abc/layer.tar", "../../etc/passwd"), MemberRule::link_leaves);
  EXPECT_EQ(hpn::archive::check_archive_symlink("x", ".."), MemberRule::link_leaves);
  EXPECT_EQ(hpn::archive::check_archive_symlink("abc/layer.tar", "/etc/passwd"), MemberRule::link_leaves);
}

TEST(TarGuard, AcceptsAnImageArchiveWithALayerAndSymlinksInIt) {
  const std::string layer = member("bin", "", '2', "usr/bin") + member("etc/alternatives/x", "", '2', "/usr/bin/x") +
                            member("usr/bin/sh", std::string(3000, 's')) + member("usr/bin/ash", "", '1', "usr/bin/sh") +
                            end_of_tar();
  const std::string tar = member("manifest.json", "[]") + member("abc/layer.tar", layer) +
                          member("def/layer.tar", "", '2', "../abc/layer.tar") + end_of_tar();
  EXPECT_TRUE(guard_all(tar).ok());
  TarGuard g("t");
  ASSERT_TRUE(g.feed(tar).ok());
  EXPECT_EQ(g.members(), 3u + 4u);  // the layer's members are counted too
}

TEST(TarGuard, RefusesEachRuleNamingTheMember) {
  struct Case {
    std::string tar;
    std::string member;
    std::string rule;
  };
  const std::string bad_layer = member("ok", "x") + member("../../etc/x", "boom") + end_of_tar();
  const std::vector<Case> cases = {
      {member("../../etc/x", "x"), "../../etc/x", "'..'"},
      {member("/tmp/x", "x"), "/tmp/x", "absolute"},
      {member("abc/layer.tar", "", '2', "../../outside"), "abc/layer.tar -> ../../outside", "symbolic link"},
      {member("abc/layer.tar", "", '1', "../x"), "abc/layer.tar -> ../x", "hard link"},
      {member("blobs/sha256/aa", bad_layer), "../../etc/x", "layer blobs/sha256/aa"},
      {member("abc/layer.tar", member("etc/x", "", '1', "/etc/shadow") + end_of_tar()), "/etc/shadow", "hard link"},
      // Long names: pax path and GNU 'L' records override the header's name.
      {pax("path", "../../" + std::string(120, 'p')) + member("short", "x"), "../../ppp", "'..'"},
      {member("././@LongLink", "/" + std::string(150, 'q') + std::string(1, '\0'), 'L') + member("short", "x"), "/qqq",
       "absolute"},
  };
  for (const auto& c : cases) {
    for (std::size_t piece : {std::size_t{1}, std::size_t{511}, std::size_t{1} << 20}) {
      auto st = guard_all(member("manifest.json", "[]") + c.tar + end_of_tar(), piece);
      ASSERT_FALSE(st.ok()) << c.member << " piece " << piece;
      EXPECT_EQ(st.error().kind, hpn::ErrorKind::invalid_argument);
      EXPECT_NE(st.error().message.find("test.tar"), std::string::npos) << st.error().message;
      EXPECT_EQ(st.error().subject, "test.tar");  // a layer's member too: the layer is said after it
      EXPECT_NE(st.error().message.find(c.member), std::string::npos) << st.error().message;
      EXPECT_NE(st.error().message.find(c.rule), std::string::npos) << st.error().message;
    }
  }
}

TEST(TarGuard, ContentThatIsNotATarIsNotReadAsALayer) {
  // A compressed layer (or any blob) whose bytes happen to hold "../" is content.
  std::string blob(4096, 'z');
  blob.replace(0, 11, "../../etc/x");
  EXPECT_TRUE(guard_all(member("blobs/sha256/bb", blob) + end_of_tar()).ok());
}

TEST(TarGuard, CheckArchiveMembersNamesTheFile) {
  hpn::test::TempDir dir;
  const fs::path p = dir / "evil.tar";
  std::ofstream(p, std::ios::binary) << member("manifest.json", "[]") + member("../../x", "y") + end_of_tar();
  auto st = hpn::archive::check_archive_members(p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(p.string()), std::string::npos);
  // The error is about the file, in fields: told of "the archive", only its subject changes.
  EXPECT_EQ(st.error().subject, p.string());
  EXPECT_EQ(st.error().message, p.string() + st.error().said);
  const auto told = st.error().with_context("loading").told_of("the archive");
  EXPECT_EQ(told.message, "loading: the archive" + st.error().said);
  EXPECT_EQ(told.context, std::vector<std::string>{"loading"});
  EXPECT_EQ(told.kind, hpn::ErrorKind::invalid_argument);
  const fs::path good = dir / "good.tar";
  std::ofstream(good, std::ios::binary) << member("manifest.json", "[]") + end_of_tar();
  EXPECT_TRUE(hpn::archive::check_archive_members(good).ok());
}

TEST(FindArchives, LoopsDanglingLinksFifosAndSocketsAreSkippedByNameNeverThrown) {
  hpn::test::TempDir dir;
  std::ofstream(dir / "good.tar") << "x";
  fs::create_symlink("loop2.tar", dir / "loop1.tar");
  fs::create_symlink("loop1.tar", dir / "loop2.tar");
  fs::create_symlink("missing.tar", dir / "dangling.tar");
  ASSERT_EQ(::mkfifo((dir / "fifo.tar").c_str(), 0600), 0);
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock = (dir / "sock.tar").string();
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::copy(sock.begin(), sock.end(), addr.sun_path);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  fs::create_directory(dir / "dir.tar");
  for (bool recursive : {false, true}) {
    auto found = hpn::archive::find_archives({dir.path().string()}, recursive);
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_EQ(found->files.size(), 1u);
    EXPECT_EQ(found->files[0].filename(), "good.tar");
    std::map<std::string, std::string> why;
    for (const auto& sk : found->skipped) why[sk.path.filename().string()] = sk.error.message;
    ASSERT_EQ(why.size(), 5u);
    EXPECT_NE(why["loop1.tar"].find("symbolic link loop"), std::string::npos) << why["loop1.tar"];
    EXPECT_NE(why["loop2.tar"].find("symbolic link loop"), std::string::npos);
    EXPECT_NE(why["dangling.tar"].find("dangling"), std::string::npos) << why["dangling.tar"];
    EXPECT_NE(why["fifo.tar"].find("FIFO"), std::string::npos);
    EXPECT_NE(why["sock.tar"].find("socket"), std::string::npos);
    EXPECT_NE(why["fifo.tar"].find((dir / "fifo.tar").string()), std::string::npos);
  }
  ::close(s);
  // A loop named directly is an error, not an exception.
  auto direct = hpn::archive::find_archives({(dir / "loop1.tar").string()}, false);
  ASSERT_FALSE(direct.ok());
  EXPECT_NE(direct.error().message.find("loop"), std::string::npos);
}

}  // namespace
