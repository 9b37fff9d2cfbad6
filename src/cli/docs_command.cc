// `portrel --generate man|bash|zsh|fish`: the man page and the shell completions
// from the CLI::App itself. The App is first read into a plain description (each
// command with its options, names, value and help), which each writer renders;
// a hidden option or subcommand (empty group) stays out of every document.
#include "cli/docs_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <sstream>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/report.h"
#include "util/text.h"

#ifndef PORTREL_VERSION
#define PORTREL_VERSION "unknown"
#endif

namespace portrel {
namespace {

struct OptionDoc {
  std::vector<std::string> names;    ///< "-t", "--tcp"; a positional's own name
  std::string value;                 ///< what a value is called; "" for a flag
  std::vector<std::string> choices;  ///< the values a {a,b,c} validator allows
  std::string help;
  bool positional = false;
  bool required = false;
  bool file = false;  ///< the value names a file (type name FILE)
};

struct CommandDoc {
  std::string name, help;
  bool global_options = false;  ///< takes the global options too (CLI11 fallthrough)
  std::vector<OptionDoc> options;
};

struct CliDoc {
  std::string summary;
  std::vector<OptionDoc> global;
  std::vector<CommandDoc> commands;
  std::string footer;
};

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
         c == '.';
}

// The values of the first {a,b,c} in a CLI11 type name such as
// "TEXT:{auto,always,never}" or "ENUM:value in {csv->2,json->1} OR {2,1}".
std::vector<std::string> choices_of(const std::string& type) {
  size_t open = type.find('{');
  size_t close = type.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::vector<std::string> out;
  std::string_view list(type.data() + open + 1, close - open - 1);
  while (!list.empty()) {
    size_t comma = std::min(list.find(','), list.size());
    std::string_view item = list.substr(0, comma);
    item = item.substr(0, item.find("->"));
    if (item.empty() || !std::ranges::all_of(item, word_char)) return {};
    out.emplace_back(item);
    list.remove_prefix(std::min(comma + 1, list.size()));
  }
  return out;
}

OptionDoc describe(const CLI::Option& o) {
  OptionDoc d;
  std::string type = o.get_type_name();
  std::string base = type.substr(0, type.find(':'));
  d.positional = o.get_positional();
  d.required = o.get_required();
  d.file = base == "FILE";
  d.choices = choices_of(type);
  d.help = o.get_description();
  if (d.positional) {
    d.names.push_back(o.get_name(true));
    return d;
  }
  for (const std::string& s : o.get_snames()) d.names.push_back("-" + s);
  for (const std::string& l : o.get_lnames()) d.names.push_back("--" + l);
  if (o.get_items_expected_max() != 0) {
    static constexpr std::string_view kGeneric[] = {
        "", "TEXT", "INT", "UINT", "FLOAT", "NUMBER", "BOOLEAN", "ENUM", "CHAR"};
    if (std::ranges::find(kGeneric, base) == std::end(kGeneric)) {
      d.value = base;
    } else {
      d.value = o.get_lnames().empty() ? "VALUE" : o.get_lnames().front();
      std::ranges::transform(d.value, d.value.begin(),
                             [](char c) { return c == '-' ? '_' : std::toupper(c); });
    }
  }
  return d;
}

// APP's visible options; for a subcommand (GLOBAL given) neither its --help nor
// the global options it also takes (same names and values), which are
// documented once.
std::vector<OptionDoc> options_of(const CLI::App& app,
                                  const std::vector<OptionDoc>* global) {
  std::vector<OptionDoc> out;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty() || (global && o == app.get_help_ptr())) continue;
    OptionDoc d = describe(*o);
    // A command's own option of a global name (graph's --format) is its own.
    if (global && std::ranges::any_of(*global, [&](const OptionDoc& g) {
          return g.names == d.names && g.choices == d.choices;
        })) {
      continue;
    }
    out.push_back(std::move(d));
  }
  return out;
}

CliDoc walk(const CLI::App& app) {
  CliDoc doc{app.get_description(), options_of(app, nullptr), {}, app.get_footer()};
  if (std::string prefix = app.get_name() + ": "; doc.summary.starts_with(prefix)) {
    doc.summary.erase(0, prefix.size());
  }
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); })) {
    doc.commands.push_back({sub->get_name(), sub->get_description(),
                            sub->get_fallthrough(), options_of(*sub, &doc.global)});
  }
  return doc;
}

// ---- the man page -----------------------------------------------------------

// Text for roff: a backslash as \e, a dash that starts an option as \-, other
// than ASCII as \[uXXXX], and a leading . or ' made inert.
std::string roff(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-' && (i == 0 || std::string_view(" (-`[|").find(text[i - 1]) !=
                                          std::string_view::npos)) {
      out += "\\-";
    } else if (c >= 0x80) {
      int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
      uint32_t cp = len == 1 ? '?' : c & (0x7f >> len);
      for (int k = 1; k < len && i + 1 < text.size(); ++k)
        cp = cp << 6 | (text[++i] & 0x3f);
      out += fmt::format("\\[u{:04X}]", cp);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

std::string tag(const OptionDoc& o) {
  if (o.positional) return fmt::format("\\fI{}\\fR", roff(o.names.front()));
  std::string out;
  for (const std::string& n : o.names) {
    out += fmt::format("{}\\fB{}\\fR", out.empty() ? "" : ", ", roff(n));
  }
  if (!o.value.empty()) out += fmt::format(" \\fI{}\\fR", roff(o.value));
  return out;
}

std::string paragraph(const OptionDoc& o) {
  std::string help = o.help;
  bool listed = std::ranges::all_of(o.choices, [&](const std::string& c) {
    return help.find(c) != std::string::npos;
  });
  if (!listed) help += fmt::format(". One of: {}.", fmt::join(o.choices, ", "));
  return fmt::format(".TP\n{}\n{}\n", tag(o), roff(help));
}

std::string synopsis(const CommandDoc& c) {
  std::string out = fmt::format(".B portrel {}\n", c.name);
  if (c.global_options) out += "[\\fIOPTIONS\\fR]\n";
  for (const OptionDoc& o : c.options) {
    if (!o.positional) continue;
    std::string name = fmt::format("\\fI{}\\fR", roff(o.names.front()));
    out += (o.required ? name : "[" + name + "]") + "\n";
  }
  return out + ".br\n";
}

// The footer's "Environment:" list: "  NAME   text" lines, deeper lines continuing.
std::string environment(const std::string& footer) {
  std::string out;
  size_t at = footer.find("Environment:\n");
  if (at == std::string::npos) return out;
  std::istringstream lines(footer.substr(at + 13));
  for (std::string line; std::getline(lines, line) && line.starts_with("  ");) {
    size_t name_end = line.find_first_of(' ', 2);
    if (line[2] != ' ' && name_end != std::string::npos) {
      size_t text = line.find_first_not_of(' ', name_end);
      out += fmt::format(".TP\n.B {}\n{}\n", roff(line.substr(2, name_end - 2)),
                         roff(text == std::string::npos ? "" : line.substr(text)));
    } else {
      size_t text = line.find_first_not_of(' ');
      if (text != std::string::npos) out += roff(line.substr(text)) + "\n";
    }
  }
  return out;
}

constexpr std::pair<const char*, const char*> kExamples[] = {
    {"portrel", "every listening TCP and bound UDP socket, grouped, with its holders"},
    {"portrel who 8080",
     "every socket on port 8080, in every network namespace, and every "
     "process holding each"},
    {"portrel of nginx --tree",
     "every socket the processes named nginx and their "
     "descendants hold"},
    {"portrel shared",
     "only the ports that several processes or sockets hold, and how"},
    {"portrel why-busy tcp 0.0.0.0:18080 --reuseaddr --try",
     "would this bind succeed, what blocks it, and what the kernel says"},
    {"portrel sql \"SELECT netns_name, proto, port, holders, pids FROM port WHERE "
     "holders > 1\"",
     "ports held by more than one process"},
    {"portrel snapshot morning.db",
     "save the relation to query or compare later with "
     "sql --db or ATTACH"},
    {"portrel audit --format json",
     "findings (leaked listeners, thundering herds, ...) "
     "for monitoring; exit 3 on warnings"},
};

std::string man_page(const CliDoc& doc) {
  std::string out = fmt::format(
      ".\\\" portrel(1): generated by `portrel --generate man` from the command line.\n"
      ".TH PORTREL 1 \"\" \"portrel {}\" \"User Commands\"\n"
      ".SH NAME\nportrel \\- {}\n.SH SYNOPSIS\n.B portrel\n[\\fIOPTIONS\\fR]\n.br\n",
      PORTREL_VERSION, roff(doc.summary));
  for (const CommandDoc& c : doc.commands) out += synopsis(c);
  std::string default_view;
  for (const Command& c : commands()) {
    if (*c.name == '\0') default_view = c.help;
  }
  if (default_view.ends_with(" (default)"))
    default_view.resize(default_view.size() - 10);
  out += fmt::format(
      ".SH DESCRIPTION\n.B portrel\nshows the many-to-many relation between processes "
      "and the network ports they hold: which processes hold a port and how they share "
      "it, and which ports a process holds, in every network namespace of the host. A "
      "socket held by a master and its forked workers is one socket with many "
      "holders.\n"
      ".PP\nWithout a command it shows {}. The global options are accepted before or "
      "after the command.\n.SH COMMANDS\n",
      roff(default_view));
  for (const CommandDoc& c : doc.commands) {
    out += fmt::format(".SS {}\n{}\n", roff(c.name), roff(c.help));
    for (const OptionDoc& o : c.options) out += paragraph(o);
  }
  out += ".SH OPTIONS\n";
  for (const OptionDoc& o : doc.global) out += paragraph(o);
  out += fmt::format(
      ".SH \"EXIT STATUS\"\n"
      ".TP\n.B {}\nThe query found something; why-busy: the bind would succeed; "
      "doctor: "
      "nothing is degraded.\n"
      ".TP\n.B {}\nIt found nothing (of: no such process); why-busy: the bind would "
      "fail.\n"
      ".TP\n.B {}\nUsage error, with one line on standard error naming what was wrong "
      "(also a snapshot file that is refused).\n"
      ".TP\n.B {}\naudit: a finding of severity warning or above; why-busy: the "
      "verdict "
      "is uncertain; doctor: something is degraded.\n"
      ".TP\n.B {}\nA partial answer: portrel could not look everywhere it was asked "
      "to (a network namespace it could not enter, an fd table it could not read, a "
      "hidden pid); what it saw is printed and one line on standard error says what "
      "it could not see.\n"
      ".TP\n.B {}\nportrel could not read the host at all (no /proc, no netlink, "
      "\\-\\-source bpf where bpf cannot load).\n",
      kExitFound, kExitNothing, kExitUsage, kExitFindings, kExitPartial, kExitFailure);
  if (std::string env = environment(doc.footer); !env.empty()) {
    out += ".SH ENVIRONMENT\n" + env;
  }
  out +=
      ".SH JSON\nWith \\fB\\-\\-format json\\fR the views print one object: "
      "\\fBsockets\\fR (each socket with its holders), \\fBports\\fR (one per network "
      "namespace and port number, with how it is shared) and \\fBwarnings\\fR. Options "
      "portrel does not know are null, never a guess. The fields are a stable "
      "contract: "
      "\\fBportrel columns\\fR lists every column of the JSON and CSV output with its "
      "meaning, and \\fBportrel sql \\-\\-schema\\fR every table and column of the SQL "
      "interface.\n.SH EXAMPLES\n";
  for (const auto& [command, what] : kExamples) {
    out += fmt::format(".TP\n\\fB{}\\fR\n{}\n", roff(command), roff(what));
  }
  out +=
      ".SH \"SEE ALSO\"\n.BR ss (8),\n.BR lsof (8),\n.BR netstat (8),\n.BR sqlite3 "
      "(1)\n";
  return out;
}

// ---- the completions --------------------------------------------------------

// For a shell's single quotes: 'it'\''s' (bash, zsh) or 'it\'s' (fish).
std::string quoted(std::string_view text, bool fish) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += fish ? "\\'" : "'\\''";
    else if (c == '\\' && fish)
      out += "\\\\";
    else
      out += c;
  }
  return out + "'";
}

// Whether a value is completed with file names: a FILE, or an option's value
// that has no fixed choices (--netns takes a path too). Other positionals
// (a port, a query) get no completion.
bool completes_files(const OptionDoc& o) {
  return o.file || (!o.positional && !o.value.empty() && o.choices.empty());
}

std::string names(const std::vector<OptionDoc>& options, bool with_value, char sep) {
  std::string out;
  for (const OptionDoc& o : options) {
    if (o.positional || o.value.empty() != !with_value) continue;
    for (const std::string& n : o.names)
      out += (out.empty() ? "" : std::string(1, sep)) + n;
  }
  return out;
}

std::string bash(const CliDoc& doc) {
  std::string value_cases;
  auto add_cases = [&](const std::vector<OptionDoc>& options) {
    for (const OptionDoc& o : options) {
      if (o.positional || o.value.empty()) continue;
      std::string words =
          completes_files(o)
              ? "-f"
              : "-W " + quoted(fmt::format("{}", fmt::join(o.choices, " ")), false);
      value_cases +=
          fmt::format("    {}) COMPREPLY=($(compgen {} -- \"$cur\")); return ;;\n",
                      fmt::join(o.names, "|"), words);
    }
  };
  add_cases(doc.global);
  std::string command_cases, subcommands;
  for (const CommandDoc& c : doc.commands) {
    subcommands += (subcommands.empty() ? "" : " ") + c.name;
    add_cases(c.options);
    std::string options = names(c.options, false, ' ');
    std::string valued = names(c.options, true, ' ');
    if (!valued.empty()) options += (options.empty() ? "" : " ") + valued;
    bool file = std::ranges::any_of(
        c.options, [](const OptionDoc& o) { return o.positional && o.file; });
    command_cases += fmt::format(
        "    {}) options={}{}{} ;;\n", c.name, quoted(options, false),
        c.global_options ? "\" $global\"" : "", file ? "; arguments=-f" : "");
  }
  std::string global =
      names(doc.global, false, ' ') + " " + names(doc.global, true, ' ');
  return fmt::format(
      "# bash completion for portrel(1): generated by `portrel --generate bash` from "
      "the\n"
      "# command line definition.\n"
      "_portrel() {{\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}\n"
      "  local command='' options='' arguments='' global={} i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case ${{COMP_WORDS[i]}} in\n"
      "      {}) ((i++)) ;;\n"
      "      -*) ;;\n"
      "      *) command=${{COMP_WORDS[i]}}; break ;;\n"
      "    esac\n"
      "  done\n"
      "  case $prev in\n{}"
      "  esac\n"
      "  case $command in\n"
      "    '') options=$global ;;\n{}"
      "  esac\n"
      "  if [[ $cur == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$options\" -- \"$cur\"))\n"
      "  elif [[ -z $command ]]; then\n"
      "    COMPREPLY=($(compgen -W {} -- \"$cur\"))\n"
      "  elif [[ -n $arguments ]]; then\n"
      "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
      "  else\n"
      "    COMPREPLY=()\n"
      "  fi\n"
      "}}\n"
      "complete -o filenames -F _portrel portrel\n",
      quoted(global, false), names(doc.global, true, '|'), value_cases, command_cases,
      quoted(subcommands, false));
}

// How zsh completes a value: files, one of the choices, or nothing (" ").
std::string zsh_action(const OptionDoc& o) {
  if (completes_files(o)) return "_files";
  if (o.choices.empty()) return " ";
  return fmt::format("({})", fmt::join(o.choices, " "));
}

// _arguments specs, one a line, each ending in SUFFIX: "-t[TCP sockets]",
// "--format[output format]:FORMAT:(csv json table)", "*:FILE:_files".
std::string zsh_specs(const std::vector<OptionDoc>& options, const std::string& indent,
                      const std::string& suffix) {
  std::string out;
  for (const OptionDoc& o : options) {
    if (o.positional) {
      out += indent +
             quoted(fmt::format("*:{}:{}", o.names.front(), zsh_action(o)), false) +
             suffix + "\n";
      break;  // the first positional's spec covers every argument
    }
  }
  for (const OptionDoc& o : options) {
    if (o.positional) continue;
    std::string help;
    for (char c : o.help) {
      if (c == '[' || c == ']') help += '\\';
      help += c;
    }
    std::string value = o.value.empty() ? "" : ":" + o.value + ":" + zsh_action(o);
    for (const std::string& n : o.names) {
      out += indent + quoted(fmt::format("{}[{}]{}", n, help, value), false) + suffix +
             "\n";
    }
  }
  return out;
}

std::string zsh(const CliDoc& doc) {
  std::string describe, cases;
  for (const CommandDoc& c : doc.commands) {
    describe += "    " + quoted(c.name + ":" + c.help, false) + "\n";
    cases +=
        fmt::format("        ({})\n          _arguments -S{} \\\n{}            ;;\n",
                    c.name, c.global_options ? " $global" : "",
                    zsh_specs(c.options, "            ", " \\"));
  }
  return fmt::format(
      "#compdef portrel\n"
      "# zsh completion for portrel(1): generated by `portrel --generate zsh` from "
      "the\n"
      "# command line definition.\n"
      "_portrel() {{\n"
      "  local curcontext=$curcontext state line\n"
      "  local -a global commands\n"
      "  global=(\n{}  )\n"
      "  commands=(\n{}  )\n"
      "  _arguments -C -S $global ': :->command' '*:: :->argument'\n"
      "  case $state in\n"
      "    (command) _describe -t commands 'portrel command' commands ;;\n"
      "    (argument)\n"
      "      case $words[1] in\n{}"
      "      esac ;;\n"
      "  esac\n"
      "}}\n"
      "_portrel \"$@\"\n",
      zsh_specs(doc.global, "    ", ""), describe, cases);
}

std::string fish_lines(const std::vector<OptionDoc>& options,
                       const std::string& condition) {
  std::string out;
  for (const OptionDoc& o : options) {
    std::string line = "complete -c portrel" + condition;
    if (o.positional) {
      if (o.file) out += line + " -F\n";
      continue;
    }
    for (const std::string& n : o.names) {
      line += n.starts_with("--") ? " -l " + n.substr(2) : " -s " + n.substr(1);
    }
    if (completes_files(o)) {
      line += " -r -F";
    } else if (!o.choices.empty()) {
      line += " -x -a " + quoted(fmt::format("{}", fmt::join(o.choices, " ")), true);
    }
    out += line + " -d " + quoted(o.help, true) + "\n";
  }
  return out;
}

std::string fish(const CliDoc& doc) {
  std::string out =
      "# fish completion for portrel(1): generated by `portrel --generate fish` from "
      "the\n"
      "# command line definition.\n"
      "complete -c portrel -f\n";
  std::string own_parsers;  // commands that do not take the global options
  for (const CommandDoc& c : doc.commands) {
    out += fmt::format("complete -c portrel -n __fish_use_subcommand -a {} -d {}\n",
                       c.name, quoted(c.help, true));
    if (!c.global_options) own_parsers += " " + c.name;
  }
  out += fish_lines(doc.global,
                    own_parsers.empty()
                        ? ""
                        : " -n 'not __fish_seen_subcommand_from" + own_parsers + "'");
  for (const CommandDoc& c : doc.commands) {
    out += fish_lines(c.options, " -n '__fish_seen_subcommand_from " + c.name + "'");
  }
  return out;
}

}  // namespace

void add_generate_option(CLI::App& app, std::string& kind) {
  app.add_option("--generate", kind, "print the man page or a shell's completion")
      ->group("");
}

int run_generate(const CLI::App& app, const std::string& kind) {
  CliDoc doc = walk(app);
  std::string text = kind == "man"    ? man_page(doc)
                     : kind == "bash" ? bash(doc)
                     : kind == "zsh"  ? zsh(doc)
                     : kind == "fish" ? fish(doc)
                                      : "";
  if (text.empty()) {
    return usage_error("--generate: expected man, bash, zsh or fish, not '" +
                       sanitize(kind) + "'");
  }
  fmt::print("{}", text);
  return kExitFound;
}

}  // namespace portrel
