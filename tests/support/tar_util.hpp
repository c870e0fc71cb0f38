// Reading tar archives in tests (libarchive): member names, contents and digests.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace hpn::test {

// sha256 hex of every regular member, by path.
std::map<std::string, std::string> tar_member_digests(const std::filesystem::path& archive);
// Content of one member ("" when absent).
std::string tar_member(const std::filesystem::path& archive, const std::string& name);
// sha256 hex of a file.
std::string file_sha256(const std::filesystem::path& file);

}  // namespace hpn::test
