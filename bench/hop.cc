// hop: what one extra process hop costs on this host, for router_bench.py.
//
//   hop relay PORT SOCKET   a byte relay: listens on 127.0.0.1:PORT and pairs
//                           every client with its own connection to the unix
//                           socket SOCKET (PostgreSQL) for the whole session.
//                           One thread, one epoll loop, no parsing, no pooling,
//                           no batching: the floor of what any proxy between
//                           pgbench and PostgreSQL costs. Runs until SIGTERM.
//   hop pingpong N          N round trips of a 64-byte message between two
//                           processes over a unix socket pair, first with both
//                           on CPU 0, then on CPUs 0 and 1; prints
//                           "same_cpu_us X cross_cpu_us Y" (µs per round trip).
//
// Benchmark helper only (built by router_bench.py with c++ -O2); not part of
// tusk. Errors: a message on stderr and exit 1.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>

namespace {

int Fail(const char* what) {
  std::fprintf(stderr, "hop: %s: %s\n", what, std::strerror(errno));
  return 1;
}

// One direction of a relayed session: bytes read from `from` that `to` has
// not taken yet.
struct Side {
  int peer = -1;
  std::string pending;  // bytes waiting for the peer to become writable
};

void CloseBoth(int epfd, std::unordered_map<int, Side>& sides, int fd) {
  auto it = sides.find(fd);
  if (it == sides.end()) return;
  int peer = it->second.peer;
  sides.erase(it);
  sides.erase(peer);
  epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
  epoll_ctl(epfd, EPOLL_CTL_DEL, peer, nullptr);
  close(fd);
  close(peer);
}

// Sends `pending` of the side that writes to `fd`; false when the peer is gone.
bool Drain(int fd, std::string& pending) {
  while (!pending.empty()) {
    ssize_t n = send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    pending.erase(0, static_cast<size_t>(n));
  }
  return true;
}

int Relay(int port, const char* socket_path) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ls < 0) return Fail("socket");
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fail("bind");
  if (listen(ls, 1024) != 0) return Fail("listen");
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = ls;
  epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &ev);
  std::unordered_map<int, Side> sides;  // fd -> what is written to its peer
  static char buf[64 * 1024];
  epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, -1);
    if (n < 0 && errno != EINTR) return Fail("epoll_wait");
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == ls) {
        for (;;) {
          int c = accept4(ls, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_un un{};
          un.sun_family = AF_UNIX;
          std::snprintf(un.sun_path, sizeof un.sun_path, "%s", socket_path);
          if (s < 0 || connect(s, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
            std::fprintf(stderr, "hop: connect %s: %s\n", socket_path, std::strerror(errno));
            close(c);
            if (s >= 0) close(s);
            continue;
          }
          fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
          sides[c].peer = s;
          sides[s].peer = c;
          for (int fd2 : {c, s}) {
            epoll_event e{};
            e.events = EPOLLIN | EPOLLOUT | EPOLLET;
            e.data.fd = fd2;
            epoll_ctl(epfd, EPOLL_CTL_ADD, fd2, &e);
          }
        }
        continue;
      }
      auto it = sides.find(fd);
      if (it == sides.end()) continue;
      int peer = it->second.peer;
      // Writable: what this fd's peer read for it earlier.
      if ((events[i].events & EPOLLOUT) && !Drain(fd, sides[peer].pending)) {
        CloseBoth(epfd, sides, fd);
        continue;
      }
      bool gone = false;
      for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          gone = true;
          break;
        }
        if (r < 0) break;
        std::string& pending = sides[fd].pending;
        pending.append(buf, static_cast<size_t>(r));
        if (!Drain(peer, pending)) {
          gone = true;
          break;
        }
        if (static_cast<size_t>(r) < sizeof buf) break;
      }
      if (gone) CloseBoth(epfd, sides, fd);
    }
  }
}

void PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

// µs per round trip between this process on `cpu_a` and a child on `cpu_b`.
double PingPong(int rounds, int cpu_a, int cpu_b) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
  char msg[64] = {0};
  pid_t child = fork();
  if (child == 0) {
    PinTo(cpu_b);
    for (int i = 0; i < rounds; ++i) {
      if (recv(sv[1], msg, sizeof msg, MSG_WAITALL) != sizeof msg) _exit(1);
      if (send(sv[1], msg, sizeof msg, 0) != sizeof msg) _exit(1);
    }
    _exit(0);
  }
  PinTo(cpu_a);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    if (send(sv[0], msg, sizeof msg, 0) != sizeof msg) break;
    if (recv(sv[0], msg, sizeof msg, MSG_WAITALL) != sizeof msg) break;
  }
  double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  int status = 0;
  waitpid(child, &status, 0);
  close(sv[0]);
  close(sv[1]);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? us / rounds : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "relay") return Relay(std::atoi(argv[2]), argv[3]);
  if (argc == 3 && std::string(argv[1]) == "pingpong") {
    int rounds = std::atoi(argv[2]);
    double same = PingPong(rounds, 0, 0);
    double cross = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? PingPong(rounds, 0, 1) : -1;
    if (same < 0) return Fail("pingpong");
    std::printf("same_cpu_us %.2f cross_cpu_us %.2f\n", same, cross);
    return 0;
  }
  std::fprintf(stderr, "usage: hop relay PORT SOCKET | hop pingpong N\n");
  return 1;
}
