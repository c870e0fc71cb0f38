// The one classification of transport failures: every libcurl result and every
// HTTP status a registry answers maps to a kind, and the kind decides the retry.
#include <gtest/gtest.h>

#include <curl/curl.h>

#include <set>
#include <string>

#include "hpn/engine/failures.hpp"

namespace {
using hpn::ErrorKind;
using hpn::engine::TransferFailure;
using F = TransferFailure;

struct CurlRow {
  CURLcode code;
  TransferFailure failure;
  bool transient;
};

// Written out here, not taken from the code: what each result means.
const CurlRow k_curl_rows[] = {
    {CURLE_UNSUPPORTED_PROTOCOL, F::protocol, false},
    {CURLE_FAILED_INIT, F::local, false},
    {CURLE_URL_MALFORMAT, F::protocol, false},
    {CURLE_NOT_BUILT_IN, F::local, false},
    {CURLE_COULDNT_RESOLVE_PROXY, F::connect, true},
    {CURLE_COULDNT_RESOLVE_HOST, F::connect, true},
    {CURLE_COULDNT_CONNECT, F::connect, true},  // connection refused: a registry restarting
    {CURLE_WEIRD_SERVER_REPLY, F::protocol, false},
    {CURLE_REMOTE_ACCESS_DENIED, F::protocol, false},
    {CURLE_HTTP2, F::lost, true},
    {CURLE_PARTIAL_FILE, F::lost, true},
    {CURLE_HTTP_RETURNED_ERROR, F::protocol, false},
    {CURLE_WRITE_ERROR, F::local, false},
    {CURLE_UPLOAD_FAILED, F::lost, true},
    {CURLE_READ_ERROR, F::local, false},
    {CURLE_OUT_OF_MEMORY, F::local, false},
    {CURLE_OPERATION_TIMEDOUT, F::timeout, true},
    {CURLE_RANGE_ERROR, F::protocol, false},
    {CURLE_SSL_CONNECT_ERROR, F::tls, true},
    {CURLE_BAD_DOWNLOAD_RESUME, F::protocol, false},
    {CURLE_ABORTED_BY_CALLBACK, F::aborted, false},
    {CURLE_BAD_FUNCTION_ARGUMENT, F::local, false},
    {CURLE_INTERFACE_FAILED, F::connect, true},
    {CURLE_TOO_MANY_REDIRECTS, F::protocol, false},
    {CURLE_UNKNOWN_OPTION, F::local, false},
    {CURLE_SETOPT_OPTION_SYNTAX, F::local, false},
    {CURLE_GOT_NOTHING, F::lost, true},
    {CURLE_SSL_ENGINE_NOTFOUND, F::local, false},
    {CURLE_SSL_ENGINE_SETFAILED, F::local, false},
    {CURLE_SEND_ERROR, F::lost, true},
    {CURLE_RECV_ERROR, F::lost, true},  // "Recv failure: Connection reset by peer"
    {CURLE_SSL_CERTPROBLEM, F::untrusted, false},
    {CURLE_SSL_CIPHER, F::untrusted, false},
    {CURLE_PEER_FAILED_VERIFICATION, F::untrusted, false},
    {CURLE_BAD_CONTENT_ENCODING, F::protocol, false},
    {CURLE_FILESIZE_EXCEEDED, F::protocol, false},
    {CURLE_USE_SSL_FAILED, F::untrusted, false},
    {CURLE_SEND_FAIL_REWIND, F::lost, true},  // "necessary data rewind wasn't possible"
    {CURLE_SSL_ENGINE_INITFAILED, F::local, false},
    {CURLE_LOGIN_DENIED, F::protocol, false},
    {CURLE_SSL_CACERT_BADFILE, F::untrusted, false},
    {CURLE_SSL_SHUTDOWN_FAILED, F::lost, true},
    {CURLE_AGAIN, F::lost, true},
    {CURLE_SSL_CRL_BADFILE, F::untrusted, false},
    {CURLE_SSL_ISSUER_ERROR, F::untrusted, false},
    {CURLE_CHUNK_FAILED, F::protocol, false},
    {CURLE_NO_CONNECTION_AVAILABLE, F::connect, true},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, F::untrusted, false},
    {CURLE_SSL_INVALIDCERTSTATUS, F::untrusted, false},
    {CURLE_HTTP2_STREAM, F::lost, true},
    {CURLE_RECURSIVE_API_CALL, F::local, false},
    {CURLE_AUTH_ERROR, F::protocol, false},
    {CURLE_HTTP3, F::lost, true},
    {CURLE_QUIC_CONNECT_ERROR, F::connect, true},
    {CURLE_PROXY, F::connect, true},
    {CURLE_SSL_CLIENTCERT, F::untrusted, false},
    {CURLE_UNRECOVERABLE_POLL, F::local, false},
    // Codes of protocols hpn never speaks.
    {CURLE_FTP_ACCEPT_FAILED, F::protocol, false},
    {CURLE_TFTP_NOTFOUND, F::protocol, false},
    {CURLE_SSH, F::protocol, false},
};

class CurlTable : public ::testing::TestWithParam<CurlRow> {};

TEST_P(CurlTable, ResultMapsToItsFailureAndRetry) {
  const CurlRow& row = GetParam();
  EXPECT_EQ(hpn::engine::transfer_failure(row.code), row.failure) << curl_easy_strerror(row.code);
  EXPECT_EQ(hpn::engine::is_transient(hpn::engine::transfer_failure(row.code)), row.transient)
      << curl_easy_strerror(row.code);
}

INSTANTIATE_TEST_SUITE_P(EveryResult, CurlTable, ::testing::ValuesIn(k_curl_rows),
                         [](const ::testing::TestParamInfo<CurlRow>& info) {
                           return "code" + std::to_string(static_cast<int>(info.param.code));
                         });

TEST(CurlTable, EveryResultOfThisLibcurlIsInTheTable) {
  // A result missing from the rows above would be classified without a test.
  std::set<int> listed;
  for (const auto& r : k_curl_rows) listed.insert(static_cast<int>(r.code));
  for (int code = 1; code < CURL_LAST; ++code) {
    const std::string text = curl_easy_strerror(static_cast<CURLcode>(code));
    if (text.find("Unknown error") != std::string::npos || text.find("obsolete") != std::string::npos ||
        text.find("FTP") != std::string::npos || text.find("TFTP") != std::string::npos ||
        text.find("LDAP") != std::string::npos || text.find("RTSP") != std::string::npos ||
        text.find("SSH") != std::string::npos) {
      continue;
    }
    if (listed.count(code) != 0) continue;
    // Anything else not listed must at least not be retried blindly.
    EXPECT_EQ(hpn::engine::transfer_failure(code), F::protocol) << code << ": " << text;
  }
}

struct StatusRow {
  long status;
  ErrorKind kind;
  bool transient;
};

const StatusRow k_status_rows[] = {
    {400, ErrorKind::protocol, false},          {401, ErrorKind::unauthorized, false},
    {403, ErrorKind::unauthorized, false},      {404, ErrorKind::not_found, false},
    {405, ErrorKind::protocol, false},          {408, ErrorKind::registry_unavailable, true},
    {409, ErrorKind::conflict, false},          {411, ErrorKind::protocol, false},
    {413, ErrorKind::protocol, false},          {416, ErrorKind::protocol, false},
    {429, ErrorKind::registry_unavailable, true}, {500, ErrorKind::registry_unavailable, true},
    {501, ErrorKind::protocol, false},          {502, ErrorKind::registry_unavailable, true},
    {503, ErrorKind::registry_unavailable, true}, {504, ErrorKind::registry_unavailable, true},
    {505, ErrorKind::protocol, false},
};

class StatusTable : public ::testing::TestWithParam<StatusRow> {};

TEST_P(StatusTable, StatusMapsToItsKindAndRetry) {
  const StatusRow& row = GetParam();
  EXPECT_EQ(hpn::engine::registry_status_kind(row.status), row.kind);
  EXPECT_EQ(hpn::is_transient(hpn::engine::registry_status_kind(row.status)), row.transient);
}

INSTANTIATE_TEST_SUITE_P(EveryStatus, StatusTable, ::testing::ValuesIn(k_status_rows),
                         [](const ::testing::TestParamInfo<StatusRow>& info) {
                           return "http" + std::to_string(info.param.status);
                         });

}  // namespace
