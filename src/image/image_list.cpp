#include "hpn/image/image_list.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

namespace hpn::image {

ImageList parse_image_list(std::istream& in, std::string source) {
  ImageList list;
  list.source = std::move(source);
  std::set<std::string> seen;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.size() > k_max_list_line) {
      list.problems.push_back({number, "line longer than " + std::to_string(k_max_list_line) + " characters"});
      continue;
    }
    std::string_view s = line;
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    if (number == 1 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);  // UTF-8 BOM
    if (s.empty() || s.front() == '#') continue;
    auto ref = parse_reference(s);
    if (!ref) {
      list.problems.push_back({number, ref.error().message});
      continue;
    }
    if (!seen.insert(ref->canonical()).second) {
      ++list.duplicates;
      continue;
    }
    list.entries.push_back({std::move(*ref), number});
  }
  return list;
}

Result<ImageList> read_image_list(const std::string& path) {
  if (path == "-") {
    auto list = parse_image_list(std::cin, "<stdin>");
    if (list.entries.empty() && list.problems.empty()) {
      return Error(ErrorKind::invalid_argument, "image list <stdin> is empty; give one image reference a line");
    }
    return list;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Error(ErrorKind::invalid_argument, "image list " + path + " is a directory; give a file with one image a line");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    const bool exists = std::filesystem::exists(path, ec);
    return Error(exists ? ErrorKind::io : ErrorKind::not_found,
                 "cannot read image list " + path + (exists ? " (permission denied?)" : " (no such file)"));
  }
  auto list = parse_image_list(f, path);
  if (f.bad()) {
    return Error(ErrorKind::io, "error reading image list " + path);
  }
  if (list.entries.empty() && list.problems.empty()) {
    return Error(ErrorKind::invalid_argument, "image list " + path + " has no images (only blank lines or comments)");
  }
  return list;
}

std::vector<std::string> describe_problems(const ImageList& list) {
  std::vector<std::string> out;
  for (const auto& p : list.problems) {
    out.push_back(list.source + ":" + std::to_string(p.line) + ": " + p.message);
  }
  return out;
}

}  // namespace hpn::image
