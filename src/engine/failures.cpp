#include "hpn/engine/failures.hpp"

#include <curl/curl.h>

namespace hpn::engine {

TransferFailure transfer_failure(int curl_code) {
  switch (static_cast<CURLcode>(curl_code)) {
    // No connection was made.
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_INTERFACE_FAILED:
    case CURLE_NO_CONNECTION_AVAILABLE:
    case CURLE_QUIC_CONNECT_ERROR:
    case CURLE_PROXY: return TransferFailure::connect;
    case CURLE_OPERATION_TIMEDOUT: return TransferFailure::timeout;
    case CURLE_ABORTED_BY_CALLBACK: return TransferFailure::aborted;
    // The connection broke: a peer that restarts resets it, closes it early or
    // answers nothing; a body that was being sent then cannot be sent again on the
    // same request (CURLE_SEND_FAIL_REWIND).
    case CURLE_HTTP2:
    case CURLE_PARTIAL_FILE:
    case CURLE_UPLOAD_FAILED:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_AGAIN:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3: return TransferFailure::lost;
    case CURLE_SSL_CONNECT_ERROR: return TransferFailure::tls;
    // The same answer every time.
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT: return TransferFailure::untrusted;
    // This process.
    case CURLE_FAILED_INIT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_SETOPT_OPTION_SYNTAX:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_RECURSIVE_API_CALL:
    case CURLE_UNRECOVERABLE_POLL: return TransferFailure::local;
    // What the peer said cannot be used (and the codes of protocols hpn never
    // speaks: FTP, TFTP, LDAP, SSH, RTSP).
    default: return TransferFailure::protocol;
  }
}

bool is_transient(TransferFailure f) {
  switch (f) {
    case TransferFailure::connect:
    case TransferFailure::timeout:
    case TransferFailure::lost:
    case TransferFailure::tls: return true;
    case TransferFailure::aborted:
    case TransferFailure::untrusted:
    case TransferFailure::local:
    case TransferFailure::protocol: return false;
  }
  return false;
}

ErrorKind registry_status_kind(long status) {
  switch (status) {
    case 401:
    case 403: return ErrorKind::unauthorized;
    case 404: return ErrorKind::not_found;
    case 409: return ErrorKind::conflict;
    case 408:  // the registry gave up waiting for the request
    case 429:  // too many requests: wait (Retry-After) and ask again
    case 500:  // a registry restarting, or its storage failing for a moment
    case 502:
    case 503:
    case 504: return ErrorKind::registry_unavailable;
    default: return ErrorKind::protocol;  // 400, 405, 411, 413, 416, 501, 505...: asking again gives the same
  }
}

}  // namespace hpn::engine
