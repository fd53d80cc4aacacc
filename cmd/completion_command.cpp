// `slipway completion bash|zsh`: shell completion generated from the CLI11 definitions of every
// subcommand, so it cannot drift from the flags slipway actually accepts.
//
// What is completed: subcommands; each subcommand's flags and options plus the global ones (they
// are accepted after the subcommand too); values of options with a fixed set of choices
// (CLI::IsMember); files for options and positionals whose type name is FILE, directories for DIR.
// Options in the hidden group ("") are internal (e.g. loadtest --worker-index) and left out.

#include <iostream>
#include <regex>
#include <sstream>

#include "cmd/app.h"

namespace slipway::cmd {

namespace {

enum class ValueKind { kNone, kText, kFile, kDir, kChoice };

struct OptionInfo {
  std::vector<std::string> names;  // "-v", "--verbose"
  std::string description;
  ValueKind value = ValueKind::kNone;
  std::vector<std::string> choices;
  bool repeatable = false;
  std::string type_name;
  std::string pname;  // a positional's name
};

struct CommandInfo {
  std::string name, description;
  std::vector<OptionInfo> options;
  std::optional<OptionInfo> positional;  // the first positional (all of slipway's have at most one)
};

// Words that can appear unquoted in a shell script: the generator refuses anything else, so a
// future option name cannot inject shell syntax into the script.
bool SafeWord(const std::string& w) {
  static const std::regex kSafe("[A-Za-z0-9_.,=+/-]+");
  return std::regex_match(w, kSafe);
}

std::vector<std::string> Choices(const std::string& type_name) {
  std::vector<std::string> out;
  auto open = type_name.find('{'), close = type_name.find('}');
  if (open == std::string::npos || close == std::string::npos || close < open) return out;
  std::stringstream list(type_name.substr(open + 1, close - open - 1));
  for (std::string item; std::getline(list, item, ',');) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    if (SafeWord(item)) out.push_back(item);
  }
  return out;
}

OptionInfo Describe(const CLI::Option* opt) {
  OptionInfo info;
  for (const auto& s : opt->get_snames())
    if (SafeWord(s)) info.names.push_back("-" + s);
  for (const auto& l : opt->get_lnames())
    if (SafeWord(l)) info.names.push_back("--" + l);
  info.description = opt->get_description();
  if (opt->get_positional()) info.pname = opt->get_name();
  info.type_name = opt->get_type_name();
  // A flag takes no value (CLI11 gives it expected(0)); a vector option takes one per occurrence.
  const bool flag = opt->get_expected_max() == 0;
  info.repeatable = !flag && opt->get_expected_max() > 1;
  if (flag) {
    info.value = ValueKind::kNone;
  } else if (auto c = Choices(info.type_name); !c.empty()) {
    info.value = ValueKind::kChoice;
    info.choices = c;
  } else if (info.type_name.rfind("FILE", 0) == 0) {
    info.value = ValueKind::kFile;
  } else if (info.type_name.rfind("DIR", 0) == 0) {
    info.value = ValueKind::kDir;
  } else {
    info.value = ValueKind::kText;
  }
  return info;
}

bool Hidden(const CLI::Option* opt) { return opt->get_group().empty(); }

// The app's named options; `with_help` false leaves out -h/--help (the root's, which the scripts
// add at the top level only).
std::vector<OptionInfo> Options(const CLI::App& app, bool with_help = true) {
  std::vector<OptionInfo> out;
  for (const auto* opt : app.get_options()) {
    if (opt->get_positional() || Hidden(opt)) continue;
    if (!with_help && opt == app.get_help_ptr()) continue;
    auto info = Describe(opt);
    if (!info.names.empty()) out.push_back(std::move(info));
  }
  return out;
}

std::vector<CommandInfo> Commands(const CLI::App& root) {
  std::vector<CommandInfo> out;
  for (const auto* sub : root.get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); })) {
    if (!SafeWord(sub->get_name())) continue;
    CommandInfo c{sub->get_name(), sub->get_description(), Options(*sub), std::nullopt};
    for (const auto* opt : sub->get_options())
      if (opt->get_positional() && !c.positional) c.positional = Describe(opt);
    out.push_back(std::move(c));
  }
  return out;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::vector<std::string> Names(const std::vector<OptionInfo>& options) {
  std::vector<std::string> out;
  for (const auto& o : options) out.insert(out.end(), o.names.begin(), o.names.end());
  return out;
}

// The compgen call that completes a value of this kind ("" when nothing is completed).
std::string BashValue(const OptionInfo& o) {
  switch (o.value) {
    case ValueKind::kChoice:
      return "COMPREPLY=($(compgen -W \"" + Join(o.choices) + "\" -- \"$cur\"))";
    case ValueKind::kFile:
      return "compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))";
    case ValueKind::kDir:
      return "compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\"))";
    default:
      return "COMPREPLY=()";
  }
}

std::string BashScript(const CLI::App& root) {
  auto globals = Options(root, false);
  auto commands = Commands(root);
  std::vector<std::string> command_names;
  for (const auto& c : commands) command_names.push_back(c.name);
  std::ostringstream s;
  s << "# bash completion for slipway (generated by 'slipway completion bash'; do not edit)\n"
    << "# Load it with: source <(slipway completion bash), or install it as\n"
    << "# /usr/share/bash-completion/completions/slipway\n"
    << "_slipway() {\n"
    << "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" cmd=\"\" i\n"
    << "  ((COMP_CWORD > 0)) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
    << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
    << "    case \"${COMP_WORDS[i]}\" in\n"
    << "      " << [&] {
         std::string alts;
         for (const auto& n : command_names) alts += (alts.empty() ? "" : "|") + n;
         return alts;
       }() << ") cmd=\"${COMP_WORDS[i]}\"; break ;;\n"
    << "    esac\n"
    << "  done\n"
    << "  case \"$cmd:$prev\" in\n";
  // Values of options: global ones anywhere, a subcommand's after it.
  for (const auto& o : globals)
    if (o.value != ValueKind::kNone)
      for (const auto& n : o.names) s << "    *:" << n << ") " << BashValue(o) << "; return ;;\n";
  for (const auto& c : commands)
    for (const auto& o : c.options)
      if (o.value != ValueKind::kNone)
        for (const auto& n : o.names) s << "    " << c.name << ":" << n << ") " << BashValue(o) << "; return ;;\n";
  s << "  esac\n"
    << "  case \"$cmd\" in\n"
    << "    \"\") COMPREPLY=($(compgen -W \"" << Join(Names(globals)) << " -h --help " << Join(command_names)
    << "\" -- \"$cur\")) ;;\n";
  for (const auto& c : commands) {
    s << "    " << c.name << ")\n"
      << "      if [[ \"$cur\" == -* ]]; then\n"
      << "        COMPREPLY=($(compgen -W \"" << Join(Names(c.options)) << " " << Join(Names(globals))
      << "\" -- \"$cur\"))\n";
    if (c.positional && c.positional->value != ValueKind::kNone && c.positional->value != ValueKind::kText)
      s << "      else\n        " << BashValue(*c.positional) << "\n";
    s << "      fi ;;\n";
  }
  s << "  esac\n"
    << "}\n"
    << "complete -F _slipway slipway\n";
  return s.str();
}

// Text inside a single-quoted zsh word.
std::string ZshQuote(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

// An _arguments explanation: brackets and backslashes escaped.
std::string ZshExplain(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return ZshQuote(out);
}

std::string ZshAction(const OptionInfo& o, const std::string& message) {
  switch (o.value) {
    case ValueKind::kChoice:
      return ":" + message + ":(" + Join(o.choices) + ")";
    case ValueKind::kFile:
      return ":" + message + ":_files";
    case ValueKind::kDir:
      return ":" + message + ":_files -/";
    case ValueKind::kText:
      return ":" + message + ": ";
    default:
      return "";
  }
}

// One _arguments spec per option, e.g. '(-v --verbose)'{-v,--verbose}'[Show debug events]'.
std::string ZshSpec(const OptionInfo& o) {
  std::string message = o.type_name.empty() ? "value" : o.type_name.substr(0, o.type_name.find(':'));
  std::string tail = "[" + ZshExplain(o.description) + "]" + ZshQuote(ZshAction(o, message));
  std::string star = o.repeatable ? "*" : "";
  if (o.names.size() == 1) return "'" + star + o.names[0] + tail + "'";
  std::string exclusive = o.repeatable ? "'*'" : "'(" + Join(o.names) + ")'";
  std::string brace;
  for (const auto& n : o.names) brace += (brace.empty() ? "" : ",") + n;
  return exclusive + "{" + brace + "}'" + tail + "'";
}

std::string ZshScript(const CLI::App& root) {
  auto globals = Options(root, false);
  auto commands = Commands(root);
  std::ostringstream s;
  s << "#compdef slipway\n"
    << "# zsh completion for slipway (generated by 'slipway completion zsh'; do not edit)\n"
    << "# Install it as _slipway in a directory on $fpath (Debian: /usr/share/zsh/vendor-completions),\n"
    << "# or load it with: source <(slipway completion zsh)\n"
    << "compdef _slipway slipway\n\n"
    << "_slipway() {\n"
    << "  local curcontext=\"$curcontext\" state line ret=1\n"
    << "  typeset -A opt_args\n"
    << "  local -a global_opts\n"
    << "  global_opts=(\n";
  for (const auto& o : globals) s << "    " << ZshSpec(o) << "\n";
  s << "  )\n"
    << "  _arguments -C $global_opts '(- *)'{-h,--help}'[Print this help message and exit]' \\\n"
    << "    '1: :->command' '*:: :->args' && ret=0\n"
    << "  case $state in\n"
    << "    command)\n"
    << "      local -a commands\n"
    << "      commands=(\n";
  for (const auto& c : commands) s << "        '" << c.name << ":" << ZshQuote(c.description) << "'\n";
  s << "      )\n"
    << "      _describe -t commands 'slipway command' commands && ret=0\n"
    << "      ;;\n"
    << "    args)\n"
    << "      case $words[1] in\n";
  for (const auto& c : commands) {
    s << "        " << c.name << ")\n"
      << "          _arguments $global_opts";
    for (const auto& o : c.options) s << " \\\n            " << ZshSpec(o);
    if (c.positional) {
      OptionInfo p = *c.positional;
      if (p.value == ValueKind::kNone) p.value = ValueKind::kText;
      s << " \\\n            '1" << ZshQuote(ZshAction(p, SafeWord(p.pname) ? p.pname : "arg")) << "'";
    }
    s << " && ret=0\n          ;;\n";
  }
  s << "      esac\n"
    << "      ;;\n"
    << "  esac\n"
    << "  return ret\n"
    << "}\n\n"
    << "# Run only when zsh's completion system calls this file, not when it is sourced.\n"
    << "if [ \"$funcstack[1]\" = \"_slipway\" ]; then\n"
    << "  _slipway \"$@\"\n"
    << "fi\n";
  return s.str();
}

}  // namespace

void AddCompletionCommand(CLI::App& app, int* exit_code) {
  auto shell = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("completion", "Print a shell completion script (bash or zsh) for slipway");
  sub->add_option("shell", *shell, "The shell: bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  sub->footer("bash: source <(slipway completion bash)   zsh: source <(slipway completion zsh)");
  sub->callback([shell, &app, exit_code] {
    std::cout << (*shell == "bash" ? BashScript(app) : ZshScript(app));
    *exit_code = kOk;
  });
}

}  // namespace slipway::cmd
