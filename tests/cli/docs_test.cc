// What `portrel --generate` prints, read by the programs that will read it: the
// man page renders without a warning and documents every subcommand the binary
// has; bash accepts its completion and completes subcommands and options; zsh
// and fish parse theirs (when installed). And `--version` says the version
// CMake's project() declares and whether the bpf source is built in.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "run.h"
#include "sources/bpf/bpf_loader.h"

namespace portrel::testing {
namespace {

// The document KIND, written to a file of its own.
std::string generated(const std::string& kind) {
  CliRun run = run_portrel({"--generate", kind});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  std::string path =
      ::testing::TempDir() + "portrel_" + kind + "_" + std::to_string(getpid());
  std::ofstream(path) << run.out;
  return path;
}

CliRun shell(const std::string& script) {
  return run_program({"/bin/sh", "-c", script});
}

// The subcommands `portrel --help` lists.
std::set<std::string> subcommands() {
  CliRun help = run_portrel({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  std::set<std::string> out;
  std::istringstream lines(help.out.substr(help.out.find("Subcommands:")));
  std::string line;
  std::getline(lines, line);
  std::smatch m;
  while (std::getline(lines, line) &&
         std::regex_search(line, m, std::regex(R"(^  (\S+))"))) {
    out.insert(m[1]);
  }
  return out;
}

TEST(Docs, TheBinaryListsEveryCommandOfTheTable) {
  std::set<std::string> listed = subcommands();
  for (const Command& c : commands()) {
    if (*c.name != '\0') {
      EXPECT_TRUE(listed.contains(c.name)) << c.name;
    }
  }
  EXPECT_TRUE(listed.contains("lab"));
}

TEST(Docs, TheManPageRendersWithoutWarningsAndDocumentsEverySubcommand) {
  std::string page = generated("man");
  CliRun man = shell(
      "LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "
      "-Tutf8 -Z '" +
      page + "' >/dev/null");
  EXPECT_EQ(man.exit_code, 0) << man.err;
  EXPECT_EQ(man.err, "") << "man --warnings";
  CliRun groff = shell("groff -man -ww -z -Tutf8 '" + page + "'");
  EXPECT_EQ(groff.exit_code, 0);
  EXPECT_EQ(groff.err, "") << "groff -ww";

  CliRun text =
      shell("LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l '" + page + "' | col -b");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                              "EXIT STATUS", "ENVIRONMENT", "JSON", "EXAMPLES"}) {
    EXPECT_NE(text.out.find(std::string("\n") + section + "\n"), std::string::npos)
        << section;
  }
  for (const std::string& sub : subcommands()) {
    EXPECT_NE(text.out.find("portrel " + sub), std::string::npos)
        << sub << " in SYNOPSIS";
    EXPECT_NE(text.out.find("\n   " + sub + "\n"), std::string::npos)
        << sub << " in COMMANDS";
  }
  for (const char* name : {"--format", "--netns", "--version", "--force", "--db",
                           "NO_COLOR", "PORTREL_STATE", "portrel columns"}) {
    EXPECT_NE(text.out.find(name), std::string::npos) << name;
  }
  std::filesystem::remove(page);
}

// What _portrel offers for the words WORDS (the last one is being completed).
std::set<std::string> complete(const std::string& script, const std::string& words) {
  CliRun run =
      run_program({"/bin/bash", "-c",
                   "source '" + script + "' && COMP_WORDS=(" + words +
                       ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _portrel && "
                       "printf '%s\\n' \"${COMPREPLY[@]}\""});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  std::set<std::string> out;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

TEST(Docs, BashParsesItsCompletionWhichCompletesSubcommandsAndOptions) {
  std::string script = generated("bash");
  CliRun parse = run_program({"/bin/bash", "-n", script});
  EXPECT_EQ(parse.exit_code, 0) << parse.err;
  EXPECT_EQ(complete(script, "portrel ''"), subcommands());
  EXPECT_EQ(complete(script, "portrel wh"), (std::set<std::string>{"who", "why-busy"}));
  EXPECT_EQ(complete(script, "portrel -t --netns host s"),
            (std::set<std::string>{"serve", "shared", "snapshot", "sql"}));
  std::set<std::string> options = complete(script, "portrel snapshot --f");
  EXPECT_TRUE(options.contains("--force") && options.contains("--format"))
      << options.size();
  EXPECT_EQ(complete(script, "portrel who --format ''"),
            (std::set<std::string>{"csv", "json", "table"}));
  EXPECT_EQ(complete(script, "portrel why-busy --re"),
            (std::set<std::string>{"--reuseaddr", "--reuseport"}));
  CliRun registered = run_program(
      {"/bin/bash", "-c", "source '" + script + "' && complete -p portrel"});
  EXPECT_NE(registered.out.find("-F _portrel"), std::string::npos) << registered.out;
  std::filesystem::remove(script);
}

// Parses the completion for SHELL with its own no-execute flag, if it is installed.
void parses(const std::string& shell_path, const std::string& flag,
            const std::string& kind) {
  if (access(shell_path.c_str(), X_OK) != 0) {
    GTEST_SKIP() << shell_path << " is not installed: the " << kind
                 << " completion was not parsed (bash's was)";
  }
  std::string script = generated(kind);
  CliRun run = run_program({shell_path, flag, script});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  std::filesystem::remove(script);
}

TEST(Docs, ZshParsesItsCompletion) { parses("/usr/bin/zsh", "-n", "zsh"); }

TEST(Docs, FishParsesItsCompletionWhichCompletesSubcommandsAndOptions) {
  parses("/usr/bin/fish", "--no-execute", "fish");
  if (IsSkipped()) return;
  std::string script = generated("fish");
  CliRun run = run_program({"/usr/bin/fish", "-c",
                            "source '" + script +
                                "'; complete -C 'portrel sn'; "
                                "complete -C 'portrel snapshot --fo'; "
                                "complete -C 'portrel --format '"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  for (const char* word :
       {"snapshot\t", "--force\t", "--format\t", "csv\t", "json\t"}) {
    EXPECT_NE(run.out.find(word), std::string::npos) << word << " in:\n" << run.out;
  }
  std::filesystem::remove(script);
}

TEST(Docs, GenerateIsHiddenAndAnUnknownKindIsAUsageError) {
  EXPECT_EQ(run_portrel({"--help"}).out.find("--generate"), std::string::npos);
  CliRun bad = run_portrel({"--generate", "html"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_EQ(bad.err, "portrel: --generate: expected man, bash, zsh or fish, not 'html'\n");
}

TEST(Version, IsTheProjectVersionWithWhetherBpfIsBuiltIn) {
  std::ifstream cmake(std::string(PORTREL_SOURCE_DIR) + "/CMakeLists.txt");
  std::stringstream text;
  text << cmake.rdbuf();
  std::smatch m;
  std::string lists = text.str();
  ASSERT_TRUE(
      std::regex_search(lists, m, std::regex(R"(project\(portrel VERSION (\S+))")));
  CliRun run = run_portrel({"--version"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, "portrel " + m[1].str() + " (bpf source: " +
                         (bpf_built_in() ? "built in" : "not built in") + ")\n");
  EXPECT_EQ(m[1].str(), PORTREL_VERSION);
}

}  // namespace
}  // namespace portrel::testing
