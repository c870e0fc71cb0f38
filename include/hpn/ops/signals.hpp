// SIGINT/SIGTERM: stop starting new work and abort transfers in flight.
#pragma once

#include <atomic>

namespace hpn::ops {

// Install handlers (once) that set the returned flag. Workers' connections watch it.
const std::atomic<bool>& install_interrupt_handlers();
// The flag (false until a signal arrives).
const std::atomic<bool>& interrupt_flag();

}  // namespace hpn::ops
