// The pieces of a tar header (POSIX ustar, GNU and pax extensions) that every tar
// reader in hpn needs: numbers, text fields, member names and pax records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace hpn::util {

inline constexpr std::size_t k_tar_block = 512;

// A numeric tar header field: octal text, or base-256 when the high bit of the first
// byte is set. False when the field holds anything else.
bool parse_tar_number(const char* field, std::size_t len, std::uint64_t& out);

// A text field: up to its first NUL or its full length.
std::string tar_field(const char* field, std::size_t len);

// The member name a header gives (name, with the ustar prefix when there is one);
// a pax `path` or GNU long name overrides it.
std::string tar_header_name(const char* header);

// Each "LEN key=value\n" record of a pax extended header, in order. False when the
// records are malformed (the ones before were visited).
bool for_each_pax_record(std::string_view content,
                         const std::function<void(std::string_view key, std::string_view value)>& fn);

// A ustar header block for a member `name` (at most 100 bytes) of `size` bytes:
// type '0' (file, mode 0644) or '5' (directory, mode 0755), owned by root, mtime 0,
// so that the same content always gives the same bytes. Sizes of 8 GiB and more
// are written base-256.
std::string tar_member_header(std::string_view name, std::uint64_t size, char type = '0');
// Zero bytes that pad a member of `size` bytes to the block size.
std::size_t tar_padding(std::uint64_t size);

// 64 lower-case hex digits: the hex form of a sha256 digest.
bool is_sha256_hex(std::string_view s);

}  // namespace hpn::util
