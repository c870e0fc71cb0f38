#include "hpn/image/image_list.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "support/testenv.hpp"

using hpn::image::describe_problems;
using hpn::image::parse_image_list;
using hpn::image::read_image_list;

TEST(ImageList, SkipsCommentsBlanksTrimsAndDropsDuplicates) {
  std::istringstream in("# header\n\n  nginx  \r\ncalico/node:v3\n\tdocker.io/library/nginx:latest\nnginx\n");
  auto list = parse_image_list(in, "list.txt");
  EXPECT_TRUE(list.problems.empty());
  ASSERT_EQ(list.entries.size(), 2u);
  EXPECT_EQ(list.entries[0].ref.original, "nginx");
  EXPECT_EQ(list.entries[0].line, 3u);
  EXPECT_EQ(list.entries[1].ref.original, "calico/node:v3");
  EXPECT_EQ(list.duplicates, 2u);
}

TEST(ImageList, EveryBadLineIsReportedWithItsNumber) {
  std::istringstream in("nginx\nBad:Name\nok/img:1\nx@sha256:1\n" + std::string(5000, 'a') + "\n\x01\x02\xff\n");
  auto list = parse_image_list(in, "imgs.txt");
  ASSERT_EQ(list.problems.size(), 4u);
  auto lines = describe_problems(list);
  EXPECT_EQ(lines[0].rfind("imgs.txt:2: ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("imgs.txt:4: ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("imgs.txt:5: line longer than 4096", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("imgs.txt:6: ", 0), 0u) << lines[3];
  EXPECT_NE(lines[3].find("control or non-ASCII"), std::string::npos);
}

TEST(ImageList, MissingEmptyAndDirectoryFailWithTheName) {
  auto missing = read_image_list("/nonexistent/list.txt");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/list.txt"), std::string::npos);
  hpn::test::TempDir dir;
  auto d = read_image_list(dir.path().string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("is a directory"), std::string::npos);
  std::ofstream(dir / "empty.txt") << "# nothing\n\n";
  auto e = read_image_list((dir / "empty.txt").string());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("has no images"), std::string::npos);
}
