#include "hpn/engine/jsonmessage.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

using hpn::ErrorKind;
using hpn::Status;
using hpn::engine::JsonMessage;
using hpn::engine::JsonMessageDecoder;

namespace {

struct Collector {
  std::vector<JsonMessage> got;
  JsonMessageDecoder decoder{[this](const JsonMessage& m) {
    got.push_back(m);
    return Status{};
  }};
};

const std::string k_docker_pull =
    "{\"status\":\"Pulling from library/busybox\",\"id\":\"1\"}\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":100,\"total\":2000},"
    "\"progress\":\"[=>   ]\",\"id\":\"abc\"}\r\n"
    "{\"status\":\"Digest: sha256:00\"}\r\n";

}  // namespace

TEST(JsonMessageDecoder, DecodesDockerCrLfStream) {
  Collector c;
  ASSERT_TRUE(c.decoder.feed(k_docker_pull).ok());
  ASSERT_TRUE(c.decoder.finish().ok());
  ASSERT_EQ(c.got.size(), 3u);
  EXPECT_EQ(c.got[0].status, "Pulling from library/busybox");
  EXPECT_EQ(c.got[1].id, "abc");
  EXPECT_EQ(c.got[1].current, 100);
  EXPECT_EQ(c.got[1].total, 2000);
  EXPECT_EQ(c.got[2].status, "Digest: sha256:00");
}

TEST(JsonMessageDecoder, DecodesPodmanLfStreamAndNoSeparator) {
  Collector c;
  ASSERT_TRUE(c.decoder.feed("{\"stream\":\"a\\n\"}\n{\"stream\":\"b\"}{\"stream\":\"c\"}").ok());
  ASSERT_TRUE(c.decoder.finish().ok());
  ASSERT_EQ(c.got.size(), 3u);
  EXPECT_EQ(c.got[0].stream, "a\n");
  EXPECT_EQ(c.got[2].stream, "c");
}

TEST(JsonMessageDecoder, ObjectsSplitAtEveryByteGiveTheSameMessages) {
  for (std::size_t chunk = 1; chunk <= 7; ++chunk) {
    Collector c;
    for (std::size_t i = 0; i < k_docker_pull.size(); i += chunk) {
      ASSERT_TRUE(c.decoder.feed(std::string_view(k_docker_pull).substr(i, chunk)).ok());
    }
    ASSERT_TRUE(c.decoder.finish().ok());
    ASSERT_EQ(c.got.size(), 3u) << "chunk size " << chunk;
    EXPECT_EQ(c.got[1].total, 2000);
  }
}

TEST(JsonMessageDecoder, BracesAndQuotesInsideStringsDoNotConfuseFraming) {
  Collector c;
  ASSERT_TRUE(c.decoder.feed(R"({"stream":"} { \" ] [ \\"})").ok());
  ASSERT_TRUE(c.decoder.feed("\n{\"aux\":{\"Digest\":\"sha256:1\",\"Size\":5}}").ok());
  ASSERT_TRUE(c.decoder.finish().ok());
  ASSERT_EQ(c.got.size(), 2u);
  EXPECT_EQ(c.got[0].stream, "} { \" ] [ \\");
  EXPECT_EQ(c.got[1].aux["Digest"], "sha256:1");
}

TEST(JsonMessageDecoder, ErrorInsideSuccessfulStreamIsAFailure) {
  Collector c;
  auto st = c.decoder.feed(
      "{\"status\":\"Pulling\"}\r\n"
      "{\"errorDetail\":{\"message\":\"manifest for x:1 not found: manifest unknown\"},"
      "\"error\":\"manifest for x:1 not found: manifest unknown\"}\r\n");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::not_found);
  EXPECT_EQ(st.error().message, "manifest for x:1 not found: manifest unknown");
  EXPECT_EQ(c.got.size(), 1u);
  // Sticky: later feeds report the same failure.
  EXPECT_FALSE(c.decoder.feed("{\"status\":\"x\"}").ok());
  EXPECT_FALSE(c.decoder.finish().ok());
}

TEST(JsonMessageDecoder, ErrorWithoutDetailAndAuthCodes) {
  {
    Collector c;
    auto st = c.decoder.feed("{\"error\":\"unauthorized: authentication required\"}");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, ErrorKind::unauthorized);
  }
  {
    Collector c;
    auto st = c.decoder.feed("{\"errorDetail\":{\"code\":401,\"message\":\"nope\"}}");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, ErrorKind::unauthorized);
  }
  {
    Collector c;
    auto st = c.decoder.feed("{\"error\":\"received unexpected HTTP status: 503 Service Unavailable\"}");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, ErrorKind::registry_unavailable);
  }
}

TEST(JsonMessageDecoder, GarbageIsAProtocolError) {
  Collector c;
  auto st = c.decoder.feed("<html>502 Bad Gateway</html>");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::protocol);
  EXPECT_NE(st.error().message.find("<html>"), std::string::npos);
}

TEST(JsonMessageDecoder, InvalidJsonInsideBracesIsAProtocolError) {
  Collector c;
  auto st = c.decoder.feed("{not json}");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::protocol);
}

TEST(JsonMessageDecoder, TruncatedStreamIsAProtocolErrorAtFinish) {
  Collector c;
  ASSERT_TRUE(c.decoder.feed("{\"status\":\"Downloading\",\"progressDe").ok());
  auto st = c.decoder.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::protocol);
}

TEST(JsonMessageDecoder, OversizedObjectIsRejectedWithoutUnboundedMemory) {
  Collector c;
  ASSERT_TRUE(c.decoder.feed("{\"stream\":\"").ok());
  std::string big(64 * 1024, 'x');
  hpn::Status st;
  for (int i = 0; i < 40 && st.ok(); ++i) st = c.decoder.feed(big);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::protocol);
}

TEST(JsonMessageDecoder, HandlerErrorStopsDecoding) {
  int calls = 0;
  JsonMessageDecoder d([&](const JsonMessage&) -> Status {
    ++calls;
    return hpn::Error(ErrorKind::io, "disk full");
  });
  auto st = d.feed("{\"a\":1}{\"b\":2}");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::io);
  EXPECT_EQ(calls, 1);
}

TEST(JsonMessageDecoder, EmptyStreamIsFine) {
  Collector c;
  EXPECT_TRUE(c.decoder.feed("").ok());
  EXPECT_TRUE(c.decoder.feed("\r\n\n").ok());
  EXPECT_TRUE(c.decoder.finish().ok());
  EXPECT_TRUE(c.got.empty());
}

// Regression (fuzz/fuzz_jsonmessage): an out-of-range float in progressDetail was
// converted to an integer with undefined behaviour.
TEST(JsonMessageDecoder, OutOfRangeNumbersAreIgnoredNotConverted) {
  Collector d;
  ASSERT_TRUE(d.decoder.feed(R"({"progressDetail":{"current":2.2e31,"total":12.0}})").ok());
  ASSERT_EQ(d.got.size(), 1u);
  EXPECT_FALSE(d.got[0].current.has_value());
  EXPECT_EQ(d.got[0].total, 12);
  EXPECT_EQ(hpn::engine::json_int(nlohmann::json(18446744073709551615ull)), INT64_MAX);
  EXPECT_FALSE(hpn::engine::json_int(nlohmann::json("12")).has_value());
}
