// parse_time() tries each accepted form in turn on the whole text; local times
// go through mktime() (so the TZ environment decides, daylight saving included)
// and zoned ISO times through timegm() and the offset.
#include "util/time_text.h"

#include <time.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

namespace portrel {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::optional<double> number(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string_view::npos)
    return {};
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return {};
  return v;
}

// "10m", "2 h", "30s", "1d" as seconds.
std::optional<double> span(std::string_view s) {
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.size() < 2) return {};
  char unit = s.back();
  std::string_view digits = s.substr(0, s.size() - 1);
  while (!digits.empty() && digits.back() == ' ') digits.remove_suffix(1);
  auto n = number(digits);
  if (!n) return {};
  switch (unit) {
    case 's':
      return *n;
    case 'm':
      return *n * 60;
    case 'h':
      return *n * 3600;
    case 'd':
      return *n * 86400;
    default:
      return {};
  }
}

// Reads "HH:MM[:SS]" at the start of S into TM; returns the characters used.
size_t clock_time(std::string_view s, tm& t) {
  int h = 0, m = 0, sec = 0, used = 0;
  std::string text(s);
  if (std::sscanf(text.c_str(), "%2d:%2d:%2d%n", &h, &m, &sec, &used) == 3 &&
      used >= 7) {
  } else if (used = 0, sec = 0;
             std::sscanf(text.c_str(), "%2d:%2d%n", &h, &m, &used) == 2 && used >= 4) {
  } else {
    return 0;
  }
  if (h > 23 || m > 59 || sec > 60 || !all_digits(text.substr(0, 2))) return 0;
  t.tm_hour = h;
  t.tm_min = m;
  t.tm_sec = sec;
  return static_cast<size_t>(used);
}

// Reads "YYYY-MM-DD" at the start of S.
bool date(std::string_view s, tm& t) {
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !all_digits(s.substr(0, 4)) ||
      !all_digits(s.substr(5, 2)) || !all_digits(s.substr(8, 2))) {
    return false;
  }
  int y = 0, mo = 0, d = 0;
  std::from_chars(s.data(), s.data() + 4, y);
  std::from_chars(s.data() + 5, s.data() + 7, mo);
  std::from_chars(s.data() + 8, s.data() + 10, d);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  return true;
}

std::optional<double> local(tm t) {
  t.tm_isdst = -1;
  time_t v = mktime(&t);
  if (v == static_cast<time_t>(-1)) return {};
  return static_cast<double>(v);
}

// "YYYY-MM-DD[ T]HH:MM[:SS][.fff][Z|±HH:MM]" or "YYYY-MM-DD".
std::optional<double> date_time(std::string_view s) {
  tm t{};
  if (!date(s, t)) return {};
  if (s.size() == 10) return local(t);
  if (s[10] != ' ' && s[10] != 'T') return {};
  std::string_view rest = s.substr(11);
  size_t used = clock_time(rest, t);
  if (used == 0) return {};
  rest.remove_prefix(used);
  double fraction = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t n = 1;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    if (n == 1) return {};
    fraction = *number("0" + std::string(rest.substr(0, n)));
    rest.remove_prefix(n);
  }
  if (rest.empty()) {
    auto v = local(t);
    return v ? std::optional<double>(*v + fraction) : std::nullopt;
  }
  int offset = 0;
  if (rest == "Z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
             all_digits(rest.substr(1, 2)) && all_digits(rest.substr(4, 2))) {
    int oh = 0, om = 0;
    std::from_chars(rest.data() + 1, rest.data() + 3, oh);
    std::from_chars(rest.data() + 4, rest.data() + 6, om);
    offset = (oh * 3600 + om * 60) * (rest[0] == '-' ? -1 : 1);
  } else {
    return {};
  }
  time_t v = timegm(&t);
  return static_cast<double>(v) - offset + fraction;
}

}  // namespace

Result<double> parse_time(std::string_view text, double now) {
  std::string_view s = text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  std::optional<double> v;
  if (s == "now") {
    v = now;
  } else if (!s.empty() && s[0] == '@') {
    v = number(s.substr(1));
  } else if (auto n = number(s)) {
    v = n;
  } else if (!s.empty() && s[0] == '-') {
    if (auto d = span(s.substr(1))) v = now - *d;
  } else if (s.ends_with(" ago")) {
    if (auto d = span(s.substr(0, s.size() - 4))) v = now - *d;
  } else if (auto dt = date_time(s)) {
    v = dt;
  } else {
    tm t{};
    time_t today = static_cast<time_t>(now);
    localtime_r(&today, &t);
    if (clock_time(s, t) == s.size() && !s.empty()) v = local(t);
  }
  if (!v || !std::isfinite(*v)) {
    return std::unexpected(Error{
        "cannot read the time '" + std::string(text) +
        "': use 2026-12-05 03:00, 03:00 (today), 2026-12-05T03:00:00Z (ISO 8601), "
        "unix seconds, -10m or 1h ago (s, m, h, d)"});
  }
  return *v;
}

std::string format_time(double unix_seconds) {
  time_t t = static_cast<time_t>(std::floor(unix_seconds));
  tm local_tm{};
  localtime_r(&t, &local_tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local_tm);
  return buf;
}

double now_unix() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

}  // namespace portrel
