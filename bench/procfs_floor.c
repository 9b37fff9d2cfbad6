/* The least any reader of /proc must do to join processes to sockets, timed
 * beside portrel --source procfs: list /proc, list each /proc/PID/fd, readlink
 * each fd, and (unless given "links") read /proc/PID/fdinfo/FD of each socket
 * fd, the only place close-on-exec is shown. One thread, nothing parsed, nothing
 * printed but a count; bench/run.sh times it as `procfs floor`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int fdinfo = !(argc > 1 && strcmp(argv[1], "links") == 0);
  long fds = 0, sockets = 0;
  char path[600], link[256], info[512];
  DIR* proc = opendir("/proc");
  if (proc == NULL) return 1;
  for (struct dirent* p; (p = readdir(proc)) != NULL;) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/fd", p->d_name);
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) continue;
    DIR* d = fdopendir(dir);
    for (struct dirent* f; (f = readdir(d)) != NULL;) {
      if (f->d_name[0] == '.') continue;
      ++fds;
      ssize_t n = readlinkat(dir, f->d_name, link, sizeof link);
      if (n < 8 || memcmp(link, "socket:[", 8) != 0) continue;
      ++sockets;
      if (!fdinfo) continue;
      snprintf(path, sizeof path, "/proc/%s/fdinfo/%s", p->d_name, f->d_name);
      int i = open(path, O_RDONLY | O_CLOEXEC);
      if (i >= 0) {
        ssize_t got = read(i, info, sizeof info);
        (void)got;
        close(i);
      }
    }
    closedir(d);
  }
  closedir(proc);
  printf("%ld fds, %ld sockets\n", fds, sockets);
  return 0;
}
