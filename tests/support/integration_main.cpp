// main() for integration tests: skip (exit 77) when no test environment is set up.
//
// HPN_TEST_DOCKER names the Docker daemon of the test environment that the Docker
// tests talk to (docker20, docker28, docker28c); meson runs each Docker test binary
// once per daemon. Its endpoint, HPN_TEST_<NAME>_HOST, becomes HPN_TEST_DOCKER_HOST.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  if (const char* which = std::getenv("HPN_TEST_DOCKER"); which != nullptr && *which != '\0') {
    std::string var = "HPN_TEST_";
    for (const char* p = which; *p != '\0'; ++p) {
      var += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    }
    var += "_HOST";
    const char* host = std::getenv(var.c_str());
    if (host == nullptr || *host == '\0') {
      std::fprintf(stderr, "skipped: %s is not set; the test environment has no %s daemon\n", var.c_str(), which);
      return 77;
    }
    ::setenv("HPN_TEST_DOCKER_HOST", host, 1);
  }
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
