// Times as people type them and read them, for `portrel history`: a small,
// documented set of forms turned into unix seconds, and unix seconds shown in
// local time. Nothing socket-specific.
#pragma once

#include <string>
#include <string_view>

#include "portrel/error.h"

namespace portrel {

/// Unix seconds from TEXT, one of: "2026-12-05 03:00[:SS]" and "2026-12-05"
/// (local time), "03:00[:SS]" (today, local time), ISO 8601
/// "2026-12-05T03:00[:SS][.fff][Z|+HH:MM|-HH:MM]" (local time without a zone),
/// unix seconds ("1796439600", "@1796439600.5"), "now", and times relative to
/// NOW: "-10m", "-2h", "-30s", "-1d", "10m ago", "2 h ago". Anything else is an
/// error whose message (one line) lists these forms.
Result<double> parse_time(std::string_view text, double now);

/// "2026-12-05 03:00:12" in local time.
std::string format_time(double unix_seconds);

/// The current time as unix seconds (CLOCK_REALTIME).
double now_unix();

}  // namespace portrel
