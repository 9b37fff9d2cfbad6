// Rendering DOT text into a picture with Graphviz's own library (libgvc): the
// `dot` layout, then the svg or png renderer. Kept apart from graph.cc so
// that building DOT needs no Graphviz.
#pragma once

#include <string>
#include <string_view>

#include "portrel/error.h"

namespace portrel {

/// Lays DOT out with the `dot` engine and renders it as FORMAT ("svg" or
/// "png"; any renderer the installed plugins know). Graphviz's messages are
/// collected, never printed: an error names what Graphviz said. Not
/// thread-safe: Graphviz reports errors through one process-wide hook.
Result<std::string> render_dot(std::string_view dot, std::string_view format);

}  // namespace portrel
