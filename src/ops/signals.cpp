#include "hpn/ops/signals.hpp"

#include <csignal>
#include <unistd.h>

namespace hpn::ops {
namespace {

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_signal(int sig) {
  if (g_interrupted.exchange(true)) {
    // Second signal: the user insists. Partial files carry only .part names.
    ::_exit(128 + sig);
  }
  static const char msg[] = "\nhpn: interrupted; stopping (partial files are removed)\n";
  (void)::write(STDERR_FILENO, msg, sizeof msg - 1);
}

}  // namespace

const std::atomic<bool>& install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return g_interrupted;
}

const std::atomic<bool>& interrupt_flag() { return g_interrupted; }

}  // namespace hpn::ops
