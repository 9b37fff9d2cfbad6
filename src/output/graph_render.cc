// Graphviz as a library: parse the DOT text, lay it out, render to memory.
// Graphviz reports through a C callback without a user pointer, so the
// messages of the one running render go to a thread_local string; they would
// otherwise be written to stderr. One Graphviz context serves every render and
// is never freed: with Graphviz 2.42 a second context reads memory the first
// one freed (AddressSanitizer: in the pango plugin's text measuring).
#include "output/graph_render.h"

#include <gvc.h>

#include <string>

namespace portrel {
namespace {

thread_local std::string* graphviz_messages = nullptr;

int collect_message(char* message) {
  if (graphviz_messages != nullptr && message != nullptr) *graphviz_messages += message;
  return 0;
}

// The first line of what Graphviz said, or FALLBACK when it said nothing.
std::string first_line(const std::string& messages, std::string fallback) {
  std::string line = messages.substr(0, messages.find('\n'));
  return line.empty() ? fallback : line;
}

GVC_t* context() {
  static GVC_t* gvc = gvContext();
  return gvc;
}

}  // namespace

Result<std::string> render_dot(std::string_view dot, std::string_view format) {
  std::string messages;
  graphviz_messages = &messages;
  agusererrf previous = agseterrf(collect_message);
  struct Restore {
    agusererrf previous;
    ~Restore() {
      agseterrf(previous);
      graphviz_messages = nullptr;
    }
  } restore{previous};

  GVC_t* gvc = context();
  if (gvc == nullptr)
    return std::unexpected(Error{"graphviz: cannot start (gvContext)"});
  std::string text(dot);  // agmemread wants a NUL-terminated string
  Agraph_t* graph = agmemread(text.c_str());
  if (graph == nullptr) {
    return std::unexpected(
        Error{"graphviz: " + first_line(messages, "cannot read the DOT text")});
  }
  Result<std::string> out;
  if (gvLayout(gvc, graph, "dot") != 0) {
    out = std::unexpected(Error{"graphviz: " + first_line(messages, "layout failed")});
  } else {
    char* data = nullptr;
    unsigned int length = 0;
    std::string name(format);
    if (gvRenderData(gvc, graph, name.c_str(), &data, &length) != 0 ||
        data == nullptr) {
      out = std::unexpected(
          Error{"graphviz: " + first_line(messages, "cannot render " + name)});
    } else {
      out = std::string(data, length);
    }
    gvFreeRenderData(data);
    gvFreeLayout(gvc, graph);
  }
  agclose(graph);
  return out;
}

}  // namespace portrel

#if defined(__SANITIZE_ADDRESS__)
// Graphviz and the libraries under its text layout (fontconfig, pango, glib)
// keep caches for the life of the process: plugin tables, the font list. A
// build with AddressSanitizer would report them as leaks at exit.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgvc.so\nleak:libcgraph.so\nleak:libcdt.so\nleak:libgvplugin_\n"
         "leak:libfontconfig.so\nleak:libpango\nleak:libcairo.so\nleak:libglib-2.0.so\n"
         "leak:libgobject-2.0.so\nleak:libharfbuzz.so\n";
}
#endif
