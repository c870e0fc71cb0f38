#include "hpn/engine/tar_stream.hpp"

#include <cstdio>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

using hpn::ErrorKind;
using hpn::engine::TarStreamChecker;

namespace {

// A ustar header for a regular file of `size` bytes.
std::string header(const std::string& name, std::size_t size, char type = '0') {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), name.size());
  std::snprintf(h.data() + 100, 8, "%07o", 0644);
  std::snprintf(h.data() + 108, 8, "%07o", 0);
  std::snprintf(h.data() + 116, 8, "%07o", 0);
  std::snprintf(h.data() + 124, 12, "%011zo", size);
  std::snprintf(h.data() + 136, 12, "%011o", 0);
  h[156] = type;
  std::memcpy(h.data() + 257, "ustar\0" "00", 8);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  h[155] = ' ';
  return h;
}

std::string entry(const std::string& name, const std::string& content) {
  std::string e = header(name, content.size()) + content;
  e.append((512 - content.size() % 512) % 512, '\0');
  return e;
}

std::string archive() {
  return entry("manifest.json", "[{\"Config\":\"c.json\"}]") + header("dir/", 0, '5') +
         entry("dir/layer.tar", std::string(1300, 'L')) + std::string(1024, '\0');
}

}  // namespace

TEST(TarStreamChecker, CompleteArchivePasses) {
  TarStreamChecker c;
  const std::string a = archive();
  c.feed(a);
  EXPECT_TRUE(c.finish().ok());
  EXPECT_EQ(c.entries(), 3u);
  EXPECT_EQ(c.bytes(), a.size());
}

TEST(TarStreamChecker, ByteByByteFeedingIsTheSame) {
  TarStreamChecker c;
  for (char ch : archive()) c.feed(std::string_view(&ch, 1));
  EXPECT_TRUE(c.finish().ok());
  EXPECT_EQ(c.entries(), 3u);
}

TEST(TarStreamChecker, ZeroPaddingAfterTheEndIsFine) {
  TarStreamChecker c;
  c.feed(archive() + std::string(8192, '\0'));
  EXPECT_TRUE(c.finish().ok());
}

TEST(TarStreamChecker, TruncatedArchiveFails) {
  const std::string a = archive();
  TarStreamChecker c;
  c.feed(std::string_view(a).substr(0, a.size() - 1024 - 300));
  auto st = c.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::protocol);
  EXPECT_NE(st.error().message.find("ended before the end"), std::string::npos);
}

TEST(TarStreamChecker, AppendedJsonErrorIsReportedWithTheDaemonsMessage) {
  const std::string a = archive();
  TarStreamChecker c;
  // The daemon cut the layer short and wrote its error.
  c.feed(std::string_view(a).substr(0, 1700));
  c.feed("{\"errorDetail\":{\"message\":\"open /var/lib/docker/x: no such file or directory\"},"
         "\"error\":\"open /var/lib/docker/x: no such file or directory\"}\n");
  auto st = c.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("open /var/lib/docker/x"), std::string::npos);
  EXPECT_NE(st.error().message.find("daemon failed during save"), std::string::npos);
}

TEST(TarStreamChecker, JsonInPlaceOfAHeaderIsReported) {
  TarStreamChecker c;
  c.feed(entry("a", "x"));
  c.feed("{\"message\":\"write failed\"}");
  auto st = c.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("write failed"), std::string::npos);
}

TEST(TarStreamChecker, GarbageAfterEndFails) {
  TarStreamChecker c;
  c.feed(archive() + "junk");
  auto st = c.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::protocol);
}

TEST(TarStreamChecker, NonTarFailsAndEmptyFails) {
  TarStreamChecker c;
  c.feed(std::string(2048, 'x'));
  auto st = c.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("not a valid tar"), std::string::npos);
  TarStreamChecker empty;
  EXPECT_FALSE(empty.finish().ok());
}
