// hpn login / hpn logout: check credentials through the daemon and store them where
// docker keeps them (config.json or the configured credential helper).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/engine/credentials.hpp"

namespace hpn::cli {
namespace {

// The registry host as docker keys it: "docker.io" for Docker Hub spellings.
std::string registry_domain(std::string r) {
  r = engine::key_host(r);
  if (r.empty() || image::is_docker_hub(r)) return std::string(image::k_docker_hub);
  return r;
}

std::optional<std::string> prompt(const char* label, bool echo) {
  if (!::isatty(STDIN_FILENO)) return std::nullopt;
  std::fprintf(stderr, "%s", label);
  std::fflush(stderr);
  termios old{};
  const bool restore = !echo && ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::fprintf(stderr, "\n");
  }
  return line;
}

}  // namespace

int cmd_login(const Context& ctx, const LoginOptions& opt) {
  if (opt.registry.empty()) {
    print_error("login needs one registry: hpn login REGISTRY [-u USER] [--password-stdin]");
    return k_exit_usage;
  }
  const std::string domain = registry_domain(opt.registry);
  std::string user = opt.username;
  if (user.empty()) {
    auto u = prompt("Username: ", true);
    if (!u || u->empty()) {
      print_error("no username: use -u USER");
      return k_exit_usage;
    }
    user = *u;
  }
  std::string password;
  if (opt.password_stdin) {
    std::getline(std::cin, password);
    while (!password.empty() && (password.back() == '\r' || password.back() == '\n')) password.pop_back();
  } else {
    auto p = prompt("Password: ", false);
    if (!p) {
      print_error("no password: pipe it with --password-stdin (never on the command line)");
      return k_exit_usage;
    }
    password = *p;
  }
  if (password.empty()) {
    print_error("empty password");
    return k_exit_usage;
  }
  auto client = connect_or_report(ctx);
  if (!client) return k_exit_failed;
  std::string check_address = engine::registry_key(domain);
  // Podman's /auth forces TLS verification except for "localhost:" addresses, even for
  // registries marked insecure; a loopback IP is the same server under that name.
  if (client->runtime() == engine::Runtime::podman && domain.rfind("127.", 0) == 0 &&
      domain.find(':') != std::string::npos) {
    check_address = "localhost" + domain.substr(domain.find(':'));
  }
  auto token = client->login(check_address, user, password);
  if (!token) {
    print_error(token.error().describe());
    return k_exit_failed;
  }
  engine::Credentials creds;
  creds.username = user;
  if (token->empty()) {
    creds.password = password;
  } else {
    creds.identity_token = *token;
  }
  auto where = engine::store_credentials(domain, creds, engine::CredentialSources::from_environment());
  if (!where) {
    print_error(where.error().with_context("login succeeded but the credentials could not be stored"));
    return k_exit_failed;
  }
  std::printf("Login Succeeded: %s as %s (stored in %s)\n", domain.c_str(), user.c_str(), where->c_str());
  return k_exit_ok;
}

int cmd_logout(const Context&, const LogoutOptions& opt) {
  if (opt.registry.empty()) {
    print_error("logout needs one registry: hpn logout REGISTRY");
    return k_exit_usage;
  }
  const std::string domain = registry_domain(opt.registry);
  auto where = engine::erase_credentials(domain, engine::CredentialSources::from_environment());
  if (!where) {
    print_error(where.error());
    return k_exit_failed;
  }
  std::printf("Removed credentials for %s from %s\n", domain.c_str(), where->c_str());
  return k_exit_ok;
}

}  // namespace hpn::cli
