#include "hpn/engine/errors.hpp"

#include <gtest/gtest.h>

using hpn::ErrorKind;
using hpn::engine::classify_message;
using hpn::engine::error_from_response;
using hpn::engine::message_from_body;

TEST(ErrorFromResponse, DockerMessageBody404IsNotFound) {
  auto e = error_from_response(404, R"({"message":"no such image: nonexist: No such image: nonexist:latest"})");
  EXPECT_EQ(e.kind, ErrorKind::not_found);
  EXPECT_EQ(e.http_status, 404);
  EXPECT_NE(e.message.find("no such image: nonexist"), std::string::npos);
}

TEST(ErrorFromResponse, PodmanBodyKeepsTheDaemonsMessage) {
  auto e = error_from_response(
      404, R"({"cause":"failed to find image nonexist: docker.io/library/nonexist: No such image","message":"failed to find image nonexist: docker.io/library/nonexist: No such image","response":404})");
  EXPECT_EQ(e.kind, ErrorKind::not_found);
  EXPECT_NE(e.message.find("failed to find image nonexist"), std::string::npos);
}

TEST(ErrorFromResponse, JsonMessageBodyIsUnderstood) {
  auto e = error_from_response(500, R"({"error":"x","errorDetail":{"message":"unauthorized: incorrect username or password"}})");
  EXPECT_EQ(e.kind, ErrorKind::unauthorized);
  EXPECT_NE(e.message.find("incorrect username"), std::string::npos);
}

TEST(ErrorFromResponse, StatusCodesMapToKinds) {
  EXPECT_EQ(error_from_response(401, "{}").kind, ErrorKind::unauthorized);
  EXPECT_EQ(error_from_response(403, "").kind, ErrorKind::unauthorized);
  EXPECT_EQ(error_from_response(409, R"({"message":"image is in use"})").kind, ErrorKind::conflict);
  EXPECT_EQ(error_from_response(400, R"({"message":"bad parameter"})").kind, ErrorKind::invalid_argument);
  EXPECT_EQ(error_from_response(503, "").kind, ErrorKind::registry_unavailable);
  EXPECT_EQ(error_from_response(500, R"({"message":"something odd"})").kind, ErrorKind::daemon_error);
  EXPECT_EQ(error_from_response(500, R"({"message":"write /x: no space left on device"})").kind,
            ErrorKind::no_space);
}

TEST(MessageFromBody, PlainTextIsTrimmedAndBounded) {
  EXPECT_EQ(message_from_body("  page not found \n"), "page not found");
  EXPECT_EQ(message_from_body(""), "(empty response body)");
  EXPECT_LE(message_from_body(std::string(10000, 'a')).size(), 512u);
}

TEST(ClassifyMessage, RegistryMessages) {
  EXPECT_EQ(classify_message("manifest for 127.0.0.1:5000/x:1 not found: manifest unknown"), ErrorKind::not_found);
  EXPECT_EQ(classify_message("pull access denied for nope, repository does not exist or may require 'docker login'"),
            ErrorKind::not_found);
  EXPECT_EQ(classify_message("unauthorized: authentication required"), ErrorKind::unauthorized);
  EXPECT_EQ(classify_message("Get \"http://r/v2/\": dial tcp 127.0.0.1:1: connect: connection refused"),
            ErrorKind::registry_unavailable);
  EXPECT_EQ(classify_message("net/http: TLS handshake timeout"), ErrorKind::registry_unavailable);
  EXPECT_EQ(classify_message("invalid reference format"), ErrorKind::invalid_argument);
  EXPECT_EQ(classify_message("weird", ErrorKind::protocol), ErrorKind::protocol);
}

TEST(ErrorKinds, TransientOnesAreRetryable) {
  EXPECT_TRUE(hpn::is_transient(ErrorKind::registry_unavailable));
  EXPECT_TRUE(hpn::is_transient(ErrorKind::daemon_unreachable));
  EXPECT_TRUE(hpn::is_transient(ErrorKind::timeout));
  EXPECT_FALSE(hpn::is_transient(ErrorKind::not_found));
  EXPECT_FALSE(hpn::is_transient(ErrorKind::unauthorized));
  EXPECT_FALSE(hpn::is_transient(ErrorKind::invalid_argument));
  EXPECT_FALSE(hpn::is_transient(ErrorKind::cancelled));
}
