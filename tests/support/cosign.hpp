// cosign and oras (Debian unstable's, unpacked by scripts/testenv), the clients of
// signatures and referrers that no one here wrote.
//
// cosign runs offline: a key pair of its own directory, a signing config that names
// no service (no transparency log, no timestamp authority, no Fulcio), and a trust
// root of its own given to every command, so that it never asks a host outside
// this machine for one (TUF_ROOT points into the directory too: a fetch would show
// there).
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/testenv.hpp"

namespace hpn::test {

class Cosign {
 public:
  explicit Cosign(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    ok_ = run("generate-key-pair").exit_code == 0 &&
          run("signing-config create --no-default-fulcio --no-default-oidc --no-default-rekor --no-default-tsa "
              "--out signing.json")
                  .exit_code == 0 &&
          run("trusted-root create --out trusted-root.json").exit_code == 0;
  }
  bool ready() const { return ok_; }
  std::filesystem::path tuf_dir() const { return dir_ / "tuf"; }

  // `cosign ARGS` in the key's directory, stdout and stderr together in `out`.
  CommandResult run(const std::string& args) const {
    return run_command("cd " + shell_quote(dir_.string()) +
                       " && COSIGN_PASSWORD= TUF_ROOT=" + shell_quote(tuf_dir().string()) + " " +
                       shell_quote(env("HPN_TEST_COSIGN")) + " " + args + " 2>&1");
  }
  CommandResult sign(const std::string& ref) const {
    return run("sign --key cosign.key --signing-config signing.json --trusted-root trusted-root.json " + k_plain +
               " -y " + shell_quote(ref));
  }
  // A signature in cosign's older form: the tag sha256-HEX.sig, simple signing.
  CommandResult sign_legacy(const std::string& ref) const {
    return run("sign --key cosign.key --new-bundle-format=false --use-signing-config=false --tlog-upload=false " +
               k_plain + " -y " + shell_quote(ref));
  }
  // An SPDX SBOM attestation of `ref`.
  CommandResult attest_sbom(const std::string& ref) const {
    write_file(
        dir_ / "sbom.json",
        R"({"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"hpn-test",)"
        R"("documentNamespace":"https://spdx.invalid/hpn-test","creationInfo":{"created":"2026-01-01T00:00:00Z",)"
        R"("creators":["Tool: hpn-test"]},"packages":[]})");
    return run(
        "attest --key cosign.key --signing-config signing.json --trusted-root trusted-root.json --type spdxjson "
        "--predicate sbom.json " +
        k_plain + " -y " + shell_quote(ref));
  }
  CommandResult verify(const std::string& ref) const {
    return run("verify --key cosign.pub --trusted-root trusted-root.json --insecure-ignore-tlog " + k_plain + " " +
               shell_quote(ref));
  }
  CommandResult verify_sbom(const std::string& ref) const {
    return run(
        "verify-attestation --key cosign.pub --trusted-root trusted-root.json --insecure-ignore-tlog "
        "--type spdxjson " +
        k_plain + " " + shell_quote(ref));
  }

 private:
  static inline const std::string k_plain = "--allow-insecure-registry --allow-http-registry";
  std::filesystem::path dir_;
  bool ok_ = false;
};

// The digests of the referrers `oras discover` lists for `target`, sorted (empty
// when it lists none or fails; `out` gets its output). `how` says where it is:
// "--plain-http" for a registry, "--oci-layout" for a layout's DIR@DIGEST.
inline std::vector<std::string> oras_discover(const std::string& how, const std::string& target,
                                              std::string* out = nullptr) {
  auto r = run_command(shell_quote(env("HPN_TEST_ORAS")) + " discover " + how + " --format json " +
                       shell_quote(target) + " 2>&1");
  if (out != nullptr) *out = r.out;
  std::vector<std::string> digests;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || !j.is_object()) return digests;
  // oras 1.2+: {"referrers": [{"digest": ...}, ...]}; older: {"manifests": [...]}.
  for (const char* key : {"referrers", "manifests"}) {
    if (!j.contains(key) || !j[key].is_array()) continue;
    for (const auto& e : j[key]) {
      if (e.contains("digest")) digests.push_back(e["digest"].get<std::string>());
    }
  }
  std::sort(digests.begin(), digests.end());
  return digests;
}

// `oras discover` of `ref` over plain HTTP.
inline std::vector<std::string> oras_referrers(const std::string& ref, std::string* out = nullptr) {
  return oras_discover("--plain-http", ref, out);
}

}  // namespace hpn::test
