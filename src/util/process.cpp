#include "hpn/util/process.hpp"

#include <algorithm>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <chrono>
#include <thread>

#include "hpn/util/fd.hpp"

extern char** environ;

namespace hpn::util {
namespace {

constexpr std::size_t k_err_keep = 16 * 1024;

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 20; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessIo& io, std::string* captured) {
  if (argv.empty()) return Error(ErrorKind::invalid_argument, "no program to run");
  int in_p[2], out_p[2], err_p[2];
  if (::pipe2(in_p, O_CLOEXEC) != 0 || ::pipe2(out_p, O_CLOEXEC) != 0 || ::pipe2(err_p, O_CLOEXEC) != 0) {
    return Error(ErrorKind::io, "cannot create pipes for " + argv[0]);
  }
  Fd in_r(in_p[0]), in_w(in_p[1]), out_r(out_p[0]), out_w(out_p[1]), err_r(err_p[0]), err_w(err_p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (io.input) {
    posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  } else {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child must not inherit our ignored SIGPIPE or blocked signals.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  // The child's environment: ours, with io.env's NAME=VALUE entries replacing or adding.
  std::vector<std::string> env_store;
  std::vector<char*> envp;
  if (!io.env.empty()) {
    auto name_of = [](std::string_view kv) { return kv.substr(0, kv.find('=')); };
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view kv(*e);
      const bool replaced = std::any_of(io.env.begin(), io.env.end(),
                                        [&](const std::string& x) { return name_of(x) == name_of(kv); });
      if (!replaced) env_store.emplace_back(kv);
    }
    env_store.insert(env_store.end(), io.env.begin(), io.env.end());
    for (auto& kv : env_store) envp.push_back(kv.data());
    envp.push_back(nullptr);
  }
  const int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, args.data(), envp.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Error(ErrorKind::not_found, "cannot run " + argv[0] + ": " + std::strerror(rc) + " (is it installed and on PATH?)");
  }
  in_r.reset();
  out_w.reset();
  err_w.reset();
  if (!io.input) in_w.reset();
  if (in_w.valid()) ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

  ProcessResult result;
  std::vector<char> inbuf(64 * 1024);
  std::size_t in_have = 0, in_off = 0;
  bool in_eof = !io.input;
  char buf[64 * 1024];
  std::optional<Error> failure;
  while (out_r.valid() || err_r.valid()) {
    if (io.interrupt != nullptr && io.interrupt->load()) {
      failure = Error(ErrorKind::cancelled, "interrupted");
      break;
    }
    if (io.deadline && std::chrono::steady_clock::now() >= *io.deadline) {
      failure = Error(ErrorKind::timeout, argv[0] + " took longer than " +
                                              (io.deadline_why.empty() ? std::string("its time limit") : io.deadline_why));
      break;
    }
    // Refill stdin data.
    if (in_w.valid() && in_off == in_have && !in_eof) {
      auto n = io.input(inbuf);
      if (!n) {
        failure = n.error();
        break;
      }
      in_have = *n;
      in_off = 0;
      if (*n == 0) {
        in_eof = true;
        in_w.reset();
      }
    }
    pollfd fds[3];
    int nfds = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_r.valid()) { out_i = nfds; fds[nfds++] = {out_r.get(), POLLIN, 0}; }
    if (err_r.valid()) { err_i = nfds; fds[nfds++] = {err_r.get(), POLLIN, 0}; }
    if (in_w.valid() && in_off < in_have) { in_i = nfds; fds[nfds++] = {in_w.get(), POLLOUT, 0}; }
    if (::poll(fds, static_cast<nfds_t>(nfds), 200) < 0) {
      if (errno == EINTR) continue;
      failure = Error(ErrorKind::io, "poll failed while running " + argv[0]);
      break;
    }
    if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in_w.get(), inbuf.data() + in_off, in_have - in_off);
      if (n > 0) {
        in_off += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        in_w.reset();  // the child stopped reading; its exit status tells why
        in_eof = true;
      }
    }
    if (out_i >= 0 && (fds[out_i].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(out_r.get(), buf, sizeof buf);
      if (n > 0) {
        if (io.output) {
          auto st = io.output(std::string_view(buf, static_cast<std::size_t>(n)));
          if (!st) {
            failure = st.error();
            break;
          }
        } else if (captured != nullptr && captured->size() < (1 << 20)) {
          captured->append(buf, static_cast<std::size_t>(n));
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_r.reset();
      }
    }
    if (err_i >= 0 && (fds[err_i].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(err_r.get(), buf, sizeof buf);
      if (n > 0) {
        result.err.append(buf, static_cast<std::size_t>(n));
        if (result.err.size() > k_err_keep) result.err.erase(0, result.err.size() - k_err_keep);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        err_r.reset();
      }
    }
  }
  if (failure) {
    kill_and_reap(pid);
    return *failure;
  }
  in_w.reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace hpn::util
