// Peak memory of the client while saving the largest test image: the save streams
// to a file, so peak RSS must not grow with image size (target: under 20 MiB).
// Needs the test environment (scripts/testenv); skips when HPN_TEST_DOCKER_HOST is unset.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "hpn/engine/client.hpp"
#include "hpn/util/file.hpp"
#include "hpn/util/sha256.hpp"

namespace {

// Peak RSS of this process image from /proc (VmHWM). getrusage's ru_maxrss is not
// used: Linux keeps it across execve, so it reports the parent's peak (meson's Python).
double peak_rss_mib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  double kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %lf kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib / 1024.0;
}

const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : fallback;
}

// `checksum`: also compute the SHA-256 sidecar digest in the same pass, as hpn save does.
void save_largest(benchmark::State& state, bool checksum) {
  const char* host = std::getenv("HPN_TEST_DOCKER_HOST");
  if (host == nullptr) {
    state.SkipWithError("HPN_TEST_DOCKER_HOST not set: run scripts/testenv start");
    return;
  }
  auto ep = hpn::engine::parse_host(host, "HPN_TEST_DOCKER_HOST");
  auto client = hpn::engine::Client::connect(*ep);
  if (!client) {
    state.SkipWithError(client.error().message.c_str());
    return;
  }
  const std::vector<std::string> names{env_or("HPN_TEST_LARGE_IMAGE", "hpn-test/large:1")};
  const auto out = std::filesystem::temp_directory_path() / "hpn-bench-save.tar";
  const double rss_before = peak_rss_mib();
  std::uint64_t total = 0;
  for (auto _ : state) {
    auto file = hpn::util::AtomicFile::create(out);
    if (!file) {
      state.SkipWithError(file.error().message.c_str());
      return;
    }
    hpn::util::Sha256 digest;
    auto n = client->save(names, [&](std::string_view chunk) {
      if (checksum) digest.update(chunk);
      return file->write(chunk);
    });
    if (!n) {
      state.SkipWithError(n.error().message.c_str());
      return;
    }
    total += *n;
    (void)file->commit();
    std::filesystem::remove(out);
  }
  const double peak = peak_rss_mib();
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
  state.counters["image_MB"] = static_cast<double>(total) / state.iterations() / 1e6;
  state.counters["peak_rss_MiB"] = peak;
  state.counters["rss_before_MiB"] = rss_before;
  std::fprintf(stderr, "save of %s: %.1f MB per iteration, peak RSS %.1f MiB (target < 20 MiB): %s\n",
               names[0].c_str(), static_cast<double>(total) / state.iterations() / 1e6, peak,
               peak < 20.0 ? "PASS" : "FAIL");
}
void BM_SaveLargestImageToFile(benchmark::State& state) { save_largest(state, true); }
void BM_SaveLargestImageNoChecksum(benchmark::State& state) { save_largest(state, false); }
// Interleaved repetitions so that both see the same machine state; compare the medians.
BENCHMARK(BM_SaveLargestImageNoChecksum)->Unit(benchmark::kMillisecond)->Iterations(2)->Repetitions(5)->ReportAggregatesOnly()->UseRealTime();
BENCHMARK(BM_SaveLargestImageToFile)->Unit(benchmark::kMillisecond)->Iterations(2)->Repetitions(5)->ReportAggregatesOnly()->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
