// main() for integration tests: skip (exit 77) when no test environment is set up.
#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  const char* host = std::getenv("HPN_TEST_DOCKER_HOST");
  if (host == nullptr || *host == '\0') {
    std::fprintf(stderr,
                 "skipped: HPN_TEST_DOCKER_HOST is not set; run "
                 "'eval \"$(sudo scripts/testenv start)\"' first\n");
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
