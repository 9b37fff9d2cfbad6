// Prints every listening TCP socket of the host with the pids that hold it,
// using only portrel's public headers.
#include <portrel/capture.h>

#include <cstdio>

int main() {
  portrel::CaptureOptions options;
  options.listening_only = true;
  auto snapshot = portrel::capture(options);
  if (!snapshot) {
    std::fprintf(stderr, "listeners: %s\n", snapshot.error().message.c_str());
    return 1;
  }
  for (const portrel::Socket& s : snapshot->sockets()) {
    if (s.proto != portrel::Proto::tcp || !s.is_listening()) continue;
    std::printf("tcp %s:%u inode %llu held by", s.local_addr.to_string().c_str(),
                s.local_port, static_cast<unsigned long long>(s.inode));
    for (const portrel::Holding& h : snapshot->holders(s.inode)) {
      std::printf(" %d/fd%d", h.pid, h.fd);
    }
    std::printf("\n");
  }
  return 0;
}
