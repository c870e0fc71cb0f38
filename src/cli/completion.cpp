#include "hpn/cli/completion.hpp"

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace hpn::cli {
namespace {

struct OptionInfo {
  std::vector<std::string> longs;   // without "--"
  std::vector<std::string> shorts;  // without "-"
  std::string help;
  bool takes_value = false;
  std::vector<std::string> choices;  // from an IsMember check: "TEXT:{a,b,c}"
};

struct CommandInfo {
  std::string name;  // "" for the top level
  std::string help;
  std::vector<OptionInfo> options;
  bool positional_files = false;  // positionals are paths (load), not image names
};

std::vector<OptionInfo> options_of(const CLI::App& app) {
  std::vector<OptionInfo> out;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_lnames().empty() && o->get_snames().empty()) continue;  // a positional
    OptionInfo i;
    i.longs = o->get_lnames();
    i.shorts = o->get_snames();
    i.help = o->get_description();
    i.takes_value = o->get_expected_max() != 0;  // flags expect no value
    const std::string type = o->get_type_name();
    if (auto a = type.find('{'), b = type.find('}'); a != std::string::npos && b != std::string::npos && b > a) {
      std::string list = type.substr(a + 1, b - a - 1);
      for (std::size_t from = 0;;) {
        const auto comma = list.find(',', from);
        i.choices.push_back(list.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
        if (comma == std::string::npos) break;
        from = comma + 1;
      }
    }
    out.push_back(std::move(i));
  }
  return out;
}

std::vector<CommandInfo> commands_of(const CLI::App& app) {
  std::vector<CommandInfo> out;
  out.push_back({"", app.get_description(), options_of(app), false});
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    CommandInfo c{sub->get_name(), sub->get_description(), options_of(*sub), false};
    for (const CLI::Option* o : sub->get_options()) {
      if (o->get_lnames().empty() && o->get_snames().empty() && o->get_name() == "files") c.positional_files = true;
    }
    out.push_back(std::move(c));
  }
  return out;
}

// The first line of a help text, for one-line descriptions.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// Single-quoted shell word (bash, zsh): ' becomes '\''.
std::string sq(const std::string& s) { return "'" + replace_all(s, "'", "'\\''") + "'"; }

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string header(std::string_view shell) {
  return std::string("# ") + std::string(shell) +
         " completion for hpn, written by `hpn completion " + std::string(shell) + "` from hpn's option table.\n";
}

std::string bash(const std::vector<CommandInfo>& cmds) {
  std::vector<std::string> names;
  for (const auto& c : cmds) if (!c.name.empty()) names.push_back(c.name);
  std::string s = header("bash");
  s += "_hpn() {\n"
       "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i\n"
       "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
       "    case ${COMP_WORDS[i]} in\n"
       "      " + join(names, "|") + ") cmd=${COMP_WORDS[i]}; break ;;\n"
       "    esac\n"
       "  done\n"
       "  local opts values files=0\n"
       "  case $cmd in\n";
  for (const auto& c : cmds) {
    std::vector<std::string> words, valued;
    for (const auto& o : c.options) {
      for (const auto& l : o.longs) words.push_back("--" + l);
      for (const auto& sh : o.shorts) words.push_back("-" + sh);
      if (o.takes_value) {
        for (const auto& l : o.longs) valued.push_back("--" + l);
        for (const auto& sh : o.shorts) valued.push_back("-" + sh);
      }
    }
    s += "    " + (c.name.empty() ? std::string("''") : c.name) + ")\n";
    s += "      opts=" + sq(join(words, " ")) + "\n";
    if (c.positional_files) s += "      files=1\n";
    s += "      case $prev in\n";
    for (const auto& o : c.options) {
      if (!o.takes_value) continue;
      std::vector<std::string> spell;
      for (const auto& l : o.longs) spell.push_back("--" + l);
      for (const auto& sh : o.shorts) spell.push_back("-" + sh);
      if (o.choices.empty()) {
        s += "        " + join(spell, "|") + ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n";
      } else {
        s += "        " + join(spell, "|") + ") COMPREPLY=($(compgen -W " + sq(join(o.choices, " ")) +
             " -- \"$cur\")); return ;;\n";
      }
    }
    s += "      esac ;;\n";
  }
  s += "  esac\n"
       "  if [[ $cur == -* ]]; then\n"
       "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
       "  elif [[ -z $cmd ]]; then\n"
       "    COMPREPLY=($(compgen -W " + sq(join(names, " ")) + " -- \"$cur\"))\n"
       "  elif ((files)); then\n"
       "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
       "  fi\n"
       "}\n"
       "complete -o default -F _hpn hpn\n";
  return s;
}

// zsh _arguments spec text: brackets and colons in descriptions escaped.
std::string zdesc(const std::string& help) {
  std::string d = first_line(help);
  d = replace_all(d, "\\", "\\\\");
  d = replace_all(d, "[", "\\[");
  d = replace_all(d, "]", "\\]");
  d = replace_all(d, ":", "\\:");
  return d;
}

std::string zsh_specs(const CommandInfo& c, const std::string& indent) {
  std::string s;
  for (const auto& o : c.options) {
    std::vector<std::string> spell;
    for (const auto& l : o.longs) spell.push_back("--" + l);
    for (const auto& sh : o.shorts) spell.push_back("-" + sh);
    std::string action = o.choices.empty() ? "_files" : "(" + join(o.choices, " ") + ")";
    for (const auto& sp : spell) {
      std::string spec = sp + "[" + zdesc(o.help) + "]";
      if (o.takes_value) spec += ":value:" + action;
      s += indent + sq(spec) + " \\\n";
    }
  }
  return s;
}

std::string zsh(const std::vector<CommandInfo>& cmds) {
  std::string s = "#compdef hpn\n" + header("zsh");
  s += "_hpn() {\n"
       "  local curcontext=$curcontext state line\n"
       "  local -a commands\n"
       "  commands=(\n";
  for (const auto& c : cmds) {
    if (!c.name.empty()) s += "    " + sq(c.name + ":" + replace_all(first_line(c.help), ":", "\\:")) + "\n";
  }
  s += "  )\n"
       "  _arguments -C \\\n";
  s += zsh_specs(cmds.front(), "    ");
  s += "    '1: :->command' \\\n"
       "    '*:: :->args'\n"
       "  case $state in\n"
       "    command) _describe -t commands 'hpn command' commands ;;\n"
       "    args)\n"
       "      case $words[1] in\n";
  for (const auto& c : cmds) {
    if (c.name.empty()) continue;
    s += "        " + c.name + ")\n          _arguments \\\n";
    s += zsh_specs(c, "            ");
    s += std::string("            ") + (c.positional_files ? "'*:file:_files'" : "'*:image: '") + " ;;\n";
  }
  s += "      esac ;;\n"
       "  esac\n"
       "}\n"
       "_hpn \"$@\"\n";
  return s;
}

// fish single-quoted word: \ and ' escaped.
std::string fq(const std::string& s) { return "'" + replace_all(replace_all(s, "\\", "\\\\"), "'", "\\'") + "'"; }

std::string fish(const std::vector<CommandInfo>& cmds) {
  std::vector<std::string> names;
  for (const auto& c : cmds) if (!c.name.empty()) names.push_back(c.name);
  std::string s = header("fish");
  s += "complete -c hpn -f\n";
  for (const auto& c : cmds) {
    if (!c.name.empty()) {
      s += "complete -c hpn -n '__fish_use_subcommand' -a " + c.name + " -d " + fq(first_line(c.help)) + "\n";
    }
  }
  for (const auto& c : cmds) {
    const std::string cond = c.name.empty() ? "__fish_use_subcommand" : "__fish_seen_subcommand_from " + c.name;
    for (const auto& o : c.options) {
      std::string line = "complete -c hpn -n " + fq(cond);
      for (const auto& l : o.longs) line += " -l " + l;
      for (const auto& sh : o.shorts) line += " -s " + sh;
      if (o.takes_value) line += o.choices.empty() ? " -r -F" : " -x -a " + fq(join(o.choices, " "));
      line += " -d " + fq(first_line(o.help));
      s += line + "\n";
    }
    if (c.positional_files) s += "complete -c hpn -n " + fq(cond) + " -F\n";
  }
  return s;
}

}  // namespace

std::optional<std::string> completion_script(const CLI::App& app, std::string_view shell) {
  const auto cmds = commands_of(app);
  if (shell == "bash") return bash(cmds);
  if (shell == "zsh") return zsh(cmds);
  if (shell == "fish") return fish(cmds);
  return std::nullopt;
}

}  // namespace hpn::cli
