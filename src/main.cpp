#include <cstdio>
#include <exception>

#include "hpn/cli/app.hpp"

int main(int argc, char** argv) {
  try {
    return hpn::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hpn: internal error: %s; please report this\n", e.what());
    return 1;
  }
}
