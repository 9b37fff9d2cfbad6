// The capture pipeline over the source interfaces, so that it runs the same
// against the live kernel and against in-memory fakes; Capturer (capture.cc)
// composes the live sources as its plan says.
#pragma once

#include <functional>

#include "portrel/capture.h"
#include "sources/sources.h"

namespace portrel {

/// The sources one capture reads, as a plan composes them.
struct CaptureParts {
  ProcessSource& processes;
  SocketSource& sockets;
  /// Options of sockets no visible process holds (the plan's unheld_options
  /// and own_listener_options); null when nothing reads them.
  OptionSource* options = nullptr;
  /// The part of the process scan that runs beside it (the plan's
  /// tasks_beside), on the thread that dumps portrel's own namespace, before
  /// that dump; empty when none.
  std::function<void()> beside = {};
};

/// Walks processes, dumps sockets in every namespace found (or the ones asked
/// for), and joins them into a Snapshot, as PLAN says: which protocols come
/// from the fd walk or cannot be listed, what reads options, where sockets'
/// namespaces are found. Partial reads become warnings.
Result<Snapshot> capture_from(const CaptureParts& parts, const CapturePlan& plan,
                              const CaptureOptions& options);

}  // namespace portrel
