// Byte streams as the layers pass them to each other: a sink takes chunks, a
// source fills buffers. Neither owns the bytes it passes.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "hpn/util/result.hpp"

namespace hpn::util {

// Receives bytes in order. An error stops the stream and is returned by its producer.
using Sink = std::function<Status(std::string_view chunk)>;
// Fills the buffer with the next bytes; returns the count, 0 at the end.
using Source = std::function<Result<std::size_t>(std::span<char> buf)>;

// The bytes of `s` (which must outlive the source), from its start.
Source string_source(const std::string& s);

}  // namespace hpn::util
