// The man page documents every command and option that `hpn --help` shows: each long
// option of the top level and of every subcommand, and every subcommand, must appear
// in man/hpn.1 (troff's "\-" read as "-"). Runs the built binary; no daemon needed.
#include <filesystem>
#include <regex>
#include <sstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "support/testenv.hpp"

namespace {

using hpn::test::run_command;
using hpn::test::shell_quote;

std::string man_text() {
  std::string man = hpn::test::slurp(hpn::test::env("HPN_SOURCE_ROOT") + "/man/hpn.1");
  std::string plain;
  for (std::size_t i = 0; i < man.size(); ++i) {
    if (man[i] == '\\' && i + 1 < man.size() && man[i + 1] == '-') continue;  // "\-" -> "-"
    plain.push_back(man[i]);
  }
  return plain;
}

std::string help_of(const std::string& command) {
  const std::string cmd = shell_quote(hpn::test::env("HPN_BINARY")) + (command.empty() ? "" : " " + command) + " --help";
  auto r = run_command(cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
  return r.out + r.err;
}

std::set<std::string> long_options(const std::string& help) {
  std::set<std::string> out;
  static const std::regex opt(R"((^|[\s,])(--[a-z][a-z0-9-]+))");
  for (std::sregex_iterator it(help.begin(), help.end(), opt), end; it != end; ++it) out.insert((*it)[2]);
  return out;
}

std::set<std::string> subcommands(const std::string& help) {
  std::set<std::string> out;
  const auto at = help.find("Subcommands:");
  if (at == std::string::npos) return out;
  static const std::regex line(R"(\n  ([a-z]+) )");
  const std::string tail = help.substr(at);
  for (std::sregex_iterator it(tail.begin(), tail.end(), line), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

TEST(Docs, ManPageNamesEveryCommandAndOptionOfHelp) {
  ASSERT_FALSE(hpn::test::env("HPN_BINARY").empty()) << "run through meson test, which sets HPN_BINARY";
  const std::string man = man_text();
  ASSERT_FALSE(man.empty()) << "man/hpn.1 not readable below HPN_SOURCE_ROOT";
  const std::string top = help_of("");
  const auto commands = subcommands(top);
  ASSERT_GE(commands.size(), 8u) << "no subcommands found in hpn --help:\n" << top;
  std::set<std::string> options = long_options(top);
  for (const auto& c : commands) {
    const bool entry = man.find("\n.B " + c + "\n") != std::string::npos || man.find("\n.BR " + c + " ") != std::string::npos;
    EXPECT_TRUE(entry) << "man page has no entry for command " << c;
    for (const auto& o : long_options(help_of(c))) options.insert(o);
  }
  ASSERT_GE(options.size(), 20u);
  for (const auto& o : options) {
    EXPECT_NE(man.find(o), std::string::npos) << "man page does not mention " << o;
  }
}

// Every subcommand and option of --help, top level and per subcommand.
std::set<std::string> help_words() {
  const std::string top = help_of("");
  std::set<std::string> words = long_options(top);
  for (const auto& c : subcommands(top)) {
    words.insert(c);
    for (const auto& o : long_options(help_of(c))) words.insert(o);
  }
  return words;
}

std::string completion_file(const std::string& name) {
  return hpn::test::slurp(hpn::test::env("HPN_COMPLETIONS_DIR") + "/" + name);
}

TEST(Completions, EveryShellAcceptsItsScript) {
  ASSERT_FALSE(hpn::test::env("HPN_COMPLETIONS_DIR").empty()) << "run through meson test";
  const std::string dir = hpn::test::env("HPN_COMPLETIONS_DIR");
  for (const auto& [shell, file] : {std::pair{"bash", "hpn"}, {"zsh", "_hpn"}, {"fish", "hpn.fish"}}) {
    auto r = run_command(std::string(shell) + " -n " + shell_quote(dir + "/" + file));
    EXPECT_EQ(r.exit_code, 0) << shell << " -n " << file << ": " << r.err;
  }
}

TEST(Completions, NameEverySubcommandAndLongOptionOfHelp) {
  const auto words = help_words();
  ASSERT_GE(words.size(), 30u);
  for (const auto& [shell, file] : {std::pair{"bash", "hpn"}, {"zsh", "_hpn"}, {"fish", "hpn.fish"}}) {
    const std::string text = completion_file(file);
    ASSERT_FALSE(text.empty()) << file << " was not built";
    // The installed file is what `hpn completion SHELL` prints now.
    EXPECT_EQ(text, run_command(shell_quote(hpn::test::env("HPN_BINARY")) + " completion " + shell).out) << shell;
    for (const auto& w : words) {
      const std::string bare = w.rfind("--", 0) == 0 ? w.substr(2) : w;
      // bash and zsh spell options out ("--no-wait"); fish names them ("-l no-wait").
      const std::string wanted = std::string(shell) == "fish" && w != bare ? "-l " + bare : w;
      EXPECT_NE(text.find(wanted), std::string::npos) << shell << " completion lacks " << w;
    }
  }
}

TEST(Completions, BashAndFishComplete) {
  const std::string dir = hpn::test::env("HPN_COMPLETIONS_DIR");
  auto bash = [&](const std::string& words) {
    return run_command("bash -c " + shell_quote("source " + shell_quote(dir + "/hpn") + "; COMP_WORDS=(" + words +
                                                "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _hpn; echo \"${COMPREPLY[*]}\""))
        .out;
  };
  EXPECT_EQ(bash("hpn sa"), "save\n");
  EXPECT_EQ(bash("hpn save --no-w"), "--no-wait\n");
  EXPECT_EQ(bash("hpn save --compress z"), "zstd\n");
  EXPECT_EQ(bash("hpn -j 4 pu"), "pull push\n");
  auto fish = run_command("fish -c " + shell_quote("source " + shell_quote(dir + "/hpn.fish") + "; complete -C 'hpn sa'"));
  EXPECT_NE(fish.out.find("save"), std::string::npos) << fish.out << fish.err;
  auto fish_opt = run_command("fish -c " + shell_quote("source " + shell_quote(dir + "/hpn.fish") +
                                                       "; complete -C 'hpn save --no-w'"));
  EXPECT_NE(fish_opt.out.find("--no-wait"), std::string::npos) << fish_opt.out << fish_opt.err;
}

// The project's files describe the product and its design, not how it was developed:
// no sessions, issue numbers, commit hashes or abandoned attempts.
TEST(Docs, ProjectFilesCarryNoDevelopmentHistory) {
  namespace fs = std::filesystem;
  const fs::path root = hpn::test::env("HPN_SOURCE_ROOT");
  std::vector<fs::path> files = {root / "README.md", root / "ARCHITECTURE.md", root / "man" / "hpn.1"};
  for (const char* dir : {"docs", "src", "include", "scripts", "completions", "bench", ".ci"}) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root / dir, ec), end; it != end; it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
  }
  ASSERT_GE(files.size(), 40u);
  static const std::regex history(R"(\bsessions?\b|\bissues? #?[0-9]+|\(issue|tried and not kept|\bnot kept\b)",
                                  std::regex::icase);
  static const std::regex hash(R"(\b[0-9a-f]{7,40}\b)");
  for (const auto& f : files) {
    std::istringstream in(hpn::test::slurp(f));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      EXPECT_FALSE(std::regex_search(line, history)) << f.string() << ":" << n << ": " << line;
      if (line.find("sha256") != std::string::npos || line.find("digest") != std::string::npos) continue;
      for (std::sregex_iterator it(line.begin(), line.end(), hash), end; it != end; ++it) {
        const std::string h = it->str();
        const bool has_digit = h.find_first_of("0123456789") != std::string::npos;
        const bool has_letter = h.find_first_of("abcdef") != std::string::npos;
        if (has_digit && has_letter && std::string("0123456789abcdef").find(h) == std::string::npos) {
          ADD_FAILURE() << f.string() << ":" << n << ": looks like a commit hash: " << line;
        }
      }
    }
  }
}

TEST(Docs, OptionScannerFindsLongOptionsOnly) {
  const auto found = long_options("  -h,--help  Print\n  --save-mode INT  1: ./NAME.tar\n  a--b not-an-option\n");
  EXPECT_EQ(found, (std::set<std::string>{"--help", "--save-mode"}));
}

}  // namespace
