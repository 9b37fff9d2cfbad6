// The capture pipeline over the two source interfaces, so that it runs the same
// against the live kernel and against in-memory fakes.
#pragma once

#include "portrel/capture.h"
#include "sources/sources.h"

namespace portrel {

/// Walks processes, dumps sockets in every namespace found (or the ones asked
/// for), and joins them into a Snapshot. Partial reads become warnings.
Result<Snapshot> capture_from(ProcessSource& processes, SocketSource& sockets,
                              const CaptureOptions& options);

}  // namespace portrel
