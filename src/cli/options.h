// Everything the command line can ask for, in one struct passed down to the
// commands; there are no global option flags.
#pragma once

#include <optional>
#include <string>

namespace portrel {

enum class Format { table, json, csv };

struct Options {
  Format format = Format::table;
  std::string color = "auto";  ///< auto | always | never
  bool tcp = false, udp = false, raw = false;
  bool ipv4 = false, ipv6 = false;
  bool all = false;        ///< every state, not just listening/bound
  bool listening = false;  ///< the default, stated explicitly
  std::string netns;       ///< inode, /run/netns name, "pid:N" or a pid; "" = all
  std::string user;        ///< user name or uid; "" = any
  bool verbose = false;
  std::string target;  ///< `who PORT` / `of PID|NAME`
  bool tree = false;   ///< `of --tree`
};

/// Whether to colour output on stdout under these options (honours NO_COLOR).
bool use_color(const Options& options);

}  // namespace portrel
