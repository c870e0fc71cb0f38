// Image lists: one reference a line, '#' comments and blank lines skipped,
// duplicates (by normalised name) dropped, every bad line reported with its number.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "hpn/image/reference.hpp"
#include "hpn/util/result.hpp"

namespace hpn::image {

struct ListEntry {
  Reference ref;
  std::size_t line = 0;  // 1-based line number in the list
};

struct ListProblem {
  std::size_t line = 0;
  std::string message;
};

struct ImageList {
  std::string source;  // file name, or "<stdin>"
  std::vector<ListEntry> entries;
  std::vector<ListProblem> problems;  // invalid lines; non-empty means do not start
  std::size_t duplicates = 0;
};

// Longest line accepted; longer lines are reported as invalid.
inline constexpr std::size_t k_max_list_line = 4096;

ImageList parse_image_list(std::istream& in, std::string source);

// Read `path` ("-" for stdin). Fails when the file cannot be read, is a directory,
// or holds no image; invalid lines come back in `problems`.
Result<ImageList> read_image_list(const std::string& path);

// "images.txt:3: invalid image reference 'Foo': repository name must be lowercase"
std::vector<std::string> describe_problems(const ImageList& list);

}  // namespace hpn::image
