#include "hpn/engine/registry.hpp"

#include <cctype>
#include <cstdint>
#include <optional>
#include <string_view>

#include "hpn/util/base64.hpp"

namespace hpn::engine {

namespace {

std::optional<std::uint32_t> parse_ipv4(std::string_view s) {
  std::uint32_t ip = 0;
  int parts = 0;
  while (parts < 4) {
    std::size_t len = 0;
    std::uint32_t octet = 0;
    while (len < s.size() && len < 3 && std::isdigit(static_cast<unsigned char>(s[len]))) {
      octet = octet * 10 + static_cast<std::uint32_t>(s[len] - '0');
      ++len;
    }
    if (len == 0 || octet > 255) return std::nullopt;
    ip = (ip << 8) | octet;
    s.remove_prefix(len);
    if (++parts < 4) {
      if (s.empty() || s.front() != '.') return std::nullopt;
      s.remove_prefix(1);
    }
  }
  if (!s.empty()) return std::nullopt;
  return ip;
}

}  // namespace

bool daemon_treats_as_insecure(const nlohmann::json& info, const std::string& host) {
  const auto cfg = info.find("RegistryConfig");
  if (cfg == info.end() || !cfg->is_object()) return false;
  if (auto idx = cfg->find("IndexConfigs"); idx != cfg->end() && idx->is_object()) {
    if (auto h = idx->find(host); h != idx->end() && h->is_object() && h->value("Secure", true) == false) return true;
  }
  std::string name = host.substr(0, host.rfind(':') == std::string::npos ? host.size() : host.rfind(':'));
  if (name == "localhost") name = "127.0.0.1";
  const auto ip = parse_ipv4(name);
  if (!ip) return false;
  auto cidrs = cfg->find("InsecureRegistryCIDRs");
  if (cidrs == cfg->end() || !cidrs->is_array()) return false;
  for (const auto& c : *cidrs) {
    // Docker 20.10 gives {"IP": "127.0.0.0", "Mask": "/wAAAA=="}; newer ones "127.0.0.0/8".
    std::optional<std::uint32_t> net;
    int bits = -1;
    if (c.is_string()) {
      const std::string text = c.get<std::string>();
      const auto slash = text.find('/');
      if (slash == std::string::npos) continue;
      net = parse_ipv4(std::string_view(text).substr(0, slash));
      try {
        bits = std::stoi(text.substr(slash + 1));
      } catch (...) {
        continue;
      }
    } else if (c.is_object() && c.contains("IP") && c["IP"].is_string() && c.contains("Mask") && c["Mask"].is_string()) {
      net = parse_ipv4(c["IP"].get<std::string>());
      auto mask = util::base64_decode(c["Mask"].get<std::string>());
      if (!mask || mask->size() != 4) continue;
      bits = 0;
      for (unsigned char b : *mask) bits += __builtin_popcount(b);
    }
    if (!net || bits < 0 || bits > 32) continue;
    const std::uint32_t m = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    if ((*ip & m) == (*net & m)) return true;
  }
  return false;
}

}  // namespace hpn::engine
