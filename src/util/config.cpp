#include "hpn/util/config.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "hpn/util/file.hpp"

namespace hpn::util {
namespace {

Error config_error(const std::string& source, const std::string& what) {
  return {ErrorKind::invalid_argument, "config " + source + ": " + what};
}

// Read scalar `key` of `node` into `out` when present. Returns an error naming the key.
template <class T>
Status read_key(const YAML::Node& node, const char* key, const std::string& prefix,
                const std::string& source, T& out) {
  const YAML::Node v = node[key];
  if (!v || v.IsNull()) return {};
  try {
    out = v.as<T>();
  } catch (const YAML::Exception&) {
    return config_error(source, "key " + prefix + key + " has an invalid value");
  }
  return {};
}

Status read_duration(const YAML::Node& node, const char* key, const std::string& prefix,
                     const std::string& source, std::chrono::milliseconds& out) {
  std::string text;
  if (auto st = read_key(node, key, prefix, source, text); !st) return st;
  if (text.empty()) return {};
  auto d = parse_duration(text);
  if (!d) return config_error(source, "key " + prefix + key + ": " + d.error().message);
  out = *d;
  return {};
}

Status read_mode(const YAML::Node& node, const char* key, int max, const std::string& source,
                 std::optional<int>& out) {
  int v = 0;
  if (!node[key]) return {};
  if (auto st = read_key(node, key, "modes.", source, v); !st) return st;
  if (v < 1 || v > max) {
    return config_error(source, "modes." + std::string(key) + " must be 1.." + std::to_string(max));
  }
  out = v;
  return {};
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return Error(ErrorKind::invalid_argument, "invalid duration '" + text + "' (use 30s, 5m, 1h)");
  double value = 0;
  try {
    value = std::stod(text.substr(0, i));
  } catch (const std::exception&) {
    return Error(ErrorKind::invalid_argument, "invalid duration '" + text + "'");
  }
  const std::string unit = text.substr(i);
  double ms = 0;
  if (unit.empty() || unit == "s") ms = value * 1000;
  else if (unit == "ms") ms = value;
  else if (unit == "m") ms = value * 60'000;
  else if (unit == "h") ms = value * 3'600'000;
  else return Error(ErrorKind::invalid_argument, "invalid duration unit in '" + text + "' (use ms, s, m, h)");
  // Out-of-range values would overflow the conversion (found by fuzz/fuzz_config).
  constexpr double k_max_ms = 365.0 * 24 * 3600 * 1000;
  if (!(ms >= 0 && ms <= k_max_ms)) {
    return Error(ErrorKind::invalid_argument, "duration '" + text + "' is out of range (at most a year)");
  }
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

Result<Config> parse_config(const std::string& yaml, const std::string& source, Config c) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return config_error(source, "not valid YAML (line " + std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  if (root.IsNull()) return c;
  if (!root.IsMap()) return config_error(source, "the top level must be a mapping of keys");
  Status st;
  auto check = [&](Status s) {
    if (st && !s) st = s;
  };
  // `registry` is the push target's address, or a mapping of it (`address`) and of
  // how hpn uploads to registries (`chunk_size`).
  if (auto reg = root["registry"]; reg && reg.IsMap()) {
    check(read_key(reg, "address", "registry.", source, c.registry));
    check(read_key(reg, "chunk_size", "registry.", source, c.registry_chunk_size));
    c.registry_set = c.registry_set || (reg["address"] && !reg["address"].IsNull());
  } else {
    check(read_key(root, "registry", "", source, c.registry));
    c.registry_set = c.registry_set || (reg && !reg.IsNull());
  }
  check(read_key(root, "project", "", source, c.project));
  c.project_set = c.project_set || (root["project"] && !root["project"].IsNull());
  if (auto p = root["proxy"]; p && p.IsMap()) {
    check(read_key(p, "http", "proxy.", source, c.proxy.http));
    check(read_key(p, "https", "proxy.", source, c.proxy.https));
    check(read_key(p, "enabled", "proxy.", source, c.proxy.enabled));
  }
  if (auto r = root["runtime"]; r && r.IsMap()) {
    check(read_key(r, "preferred", "runtime.", source, c.runtime.preferred));
    check(read_duration(r, "timeout", "runtime.", source, c.runtime.timeout));
    check(read_key(r, "auto_fallback", "runtime.", source, c.runtime.auto_fallback));
    if (auto rt = r["retry"]; rt && rt.IsMap()) {
      check(read_key(rt, "max_attempts", "runtime.retry.", source, c.runtime.retry.max_attempts));
      check(read_duration(rt, "delay", "runtime.retry.", source, c.runtime.retry.delay));
      check(read_duration(rt, "max_delay", "runtime.retry.", source, c.runtime.retry.max_delay));
    }
  }
  if (auto l = root["logging"]; l && l.IsMap()) {
    check(read_key(l, "level", "logging.", source, c.logging.level));
    check(read_key(l, "format", "logging.", source, c.logging.format));
    check(read_key(l, "file", "logging.", source, c.logging.file));
    check(read_key(l, "console", "logging.", source, c.logging.console));
    check(read_key(l, "timestamp", "logging.", source, c.logging.timestamp));
    check(read_key(l, "colors", "logging.", source, c.logging.colors));
  }
  if (auto cd = root["containerd"]; cd && cd.IsMap()) {
    check(read_key(cd, "namespace", "containerd.", source, c.containerd.ns));
    check(read_key(cd, "snapshotter", "containerd.", source, c.containerd.snapshotter));
  }
  if (auto p = root["parallel"]; p && p.IsMap()) {
    check(read_key(p, "max_workers", "parallel.", source, c.max_workers));
  }
  if (auto sv = root["save"]; sv && sv.IsMap()) {
    check(read_key(sv, "source", "save.", source, c.save.source));
    for (const char* gone : {"cache", "cache_size"}) {
      if (sv[gone]) {
        check(config_error(source, std::string("save.") + gone +
                                       " is not a setting: the bytes of blobs are kept under cache.dir with "
                                       "cache.keep_blobs: true, bounded by cache.blobs_size (save --cache DIR for "
                                       "another directory)"));
      }
    }
  }
  if (auto ca = root["cache"]; ca && ca.IsMap()) {
    check(read_key(ca, "dir", "cache.", source, c.cache.dir));
    check(read_key(ca, "known_blobs_entries", "cache.", source, c.cache.known_blobs_entries));
    check(read_key(ca, "keep_blobs", "cache.", source, c.cache.keep_blobs));
    check(read_key(ca, "blobs_size", "cache.", source, c.cache.blobs_size));
  }
  check(read_key(root, "insecure_registries", "", source, c.insecure_registries));
  if (auto m = root["modes"]; m && m.IsMap()) {
    check(read_mode(m, "save_mode", 3, source, c.modes.save_mode));
    check(read_mode(m, "load_mode", 3, source, c.modes.load_mode));
    check(read_mode(m, "push_mode", 2, source, c.modes.push_mode));
  }
  if (!st) return st.error();
  if (c.max_workers < 1 || c.max_workers > 256) {
    return config_error(source, "parallel.max_workers must be 1..256");
  }
  if (auto chunk = parse_byte_size(c.registry_chunk_size); !chunk || *chunk < (1u << 20)) {
    return config_error(source, "registry.chunk_size must be a size of 1M or more, such as 64M");
  }
  if (c.runtime.retry.max_attempts < 1 || c.runtime.retry.max_attempts > 100) {
    return config_error(source, "runtime.retry.max_attempts must be 1..100");
  }
  if (!c.runtime.preferred.empty() && c.runtime.preferred != "docker" && c.runtime.preferred != "podman" &&
      c.runtime.preferred != "nerdctl" && c.runtime.preferred != "containerd") {
    return config_error(source, "runtime.preferred must be docker, podman, nerdctl or containerd");
  }
  if (c.save.source != "daemon" && c.save.source != "registry") {
    return config_error(source, "save.source must be daemon or registry");
  }
  return c;
}

std::vector<std::string> config_search_path(const std::string& home) {
  std::vector<std::string> out{"./config.yaml"};
  if (!home.empty()) out.push_back(home + "/.hpn/config.yaml");
  out.emplace_back("/etc/hpn/config.yaml");
  return out;
}

Result<Config> load_config(const std::string& explicit_path, const Getenv& given_getenv) {
  Getenv getenv = given_getenv;
  if (!getenv) {
    getenv = [](const char* n) -> std::optional<std::string> {
      const char* v = std::getenv(n);
      return v ? std::optional<std::string>(v) : std::nullopt;
    };
  }
  Config c;
  std::string path = explicit_path;
  if (path.empty()) {
    std::error_code ec;
    for (const auto& candidate : config_search_path(getenv("HOME").value_or(""))) {
      if (std::filesystem::is_regular_file(candidate, ec)) {
        path = candidate;
        break;
      }
    }
  }
  if (!path.empty()) {
    auto text = read_small_file(path, 1 << 20);
    if (!text) {
      return Error(text.error().kind, "cannot read config file: " + text.error().message);
    }
    auto parsed = parse_config(*text, path, c);
    if (!parsed) return parsed.error();
    c = std::move(*parsed);
    c.loaded_from = path;
  }
  auto env = [&](const char* name) { return getenv(name).value_or(""); };
  if (auto v = env("HPN_REGISTRY"); !v.empty()) {
    c.registry = v;
    c.registry_set = true;
  }
  if (auto v = env("HPN_PROJECT"); !v.empty()) {
    c.project = v;
    c.project_set = true;
  }
  if (auto v = env("HPN_PROXY_HTTP"); !v.empty()) { c.proxy.http = v; c.proxy.enabled = true; }
  if (auto v = env("HPN_PROXY_HTTPS"); !v.empty()) { c.proxy.https = v; c.proxy.enabled = true; }
  if (auto v = env("HPN_RUNTIME_PREFERRED"); !v.empty()) c.runtime.preferred = v;
  if (auto v = env("HPN_RUNTIME_TIMEOUT"); !v.empty()) {
    auto d = parse_duration(v);
    if (!d) return Error(ErrorKind::invalid_argument, "HPN_RUNTIME_TIMEOUT: " + d.error().message);
    c.runtime.timeout = *d;
  }
  if (auto v = env("HPN_LOG_LEVEL"); !v.empty()) c.logging.level = v;
  if (auto v = env("HPN_SAVE_SOURCE"); !v.empty()) {
    if (v != "daemon" && v != "registry") {
      return Error(ErrorKind::invalid_argument, "HPN_SAVE_SOURCE must be daemon or registry, not '" + v + "'");
    }
    c.save.source = v;
  }
  if (auto v = env("HPN_LOG_FILE"); !v.empty()) c.logging.file = v;
  if (auto v = env("HPN_CACHE_DIR"); !v.empty()) c.cache.dir = v;
  if (auto v = env("HPN_PARALLEL_MAX"); !v.empty()) {
    try {
      std::size_t used = 0;
      int n = std::stoi(v, &used);
      if (used != v.size() || n < 1 || n > 256) throw std::out_of_range("range");
      c.max_workers = n;
    } catch (const std::exception&) {
      return Error(ErrorKind::invalid_argument, "HPN_PARALLEL_MAX must be a number 1..256, not '" + v + "'");
    }
  }
  return c;
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double unit) {
  double base = static_cast<double>(policy.delay.count());
  for (int i = 1; i < attempt && base < static_cast<double>(policy.max_delay.count()); ++i) base *= 2;
  base = std::min(base, static_cast<double>(policy.max_delay.count()));
  return std::chrono::milliseconds(static_cast<long long>(base * (0.5 + 0.5 * unit)));
}

Result<std::uint64_t> parse_byte_size(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  std::string unit = text.substr(used);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  if (!unit.empty() && unit.back() == 'I') unit.pop_back();
  double scale = 1;
  if (unit.empty()) scale = 1;
  else if (unit == "K") scale = 1024.0;
  else if (unit == "M") scale = 1024.0 * 1024;
  else if (unit == "G") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else used = 0;
  if (used == 0 || value < 0 || !std::isfinite(value)) {
    return Error(ErrorKind::invalid_argument, "'" + text + "' is not a size; write it as 500M, 20G or a byte count");
  }
  return static_cast<std::uint64_t>(value * scale);
}

}  // namespace hpn::util
