// Peak memory of the client while saving the largest test image: the save streams
// to a file, so peak RSS must not grow with image size (target: under 20 MiB). And
// what the SHA-256 sidecar digest adds to the time of that save (target: under 10%).
// Needs the test environment (scripts/testenv); skips when HPN_TEST_DOCKER_HOST is unset.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
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

struct Target {
  std::optional<hpn::engine::Client> client;
  std::vector<std::string> names;
  std::filesystem::path out;
};

std::optional<Target> connect(benchmark::State& state) {
  const char* host = std::getenv("HPN_TEST_DOCKER_HOST");
  if (host == nullptr) {
    state.SkipWithError("HPN_TEST_DOCKER_HOST not set: run scripts/testenv start");
    return std::nullopt;
  }
  auto ep = hpn::engine::parse_host(host, "HPN_TEST_DOCKER_HOST");
  auto client = hpn::engine::Client::connect(*ep);
  if (!client) {
    state.SkipWithError(client.error().message.c_str());
    return std::nullopt;
  }
  Target t;
  t.client.emplace(std::move(*client));
  t.names = {env_or("HPN_TEST_LARGE_IMAGE", "hpn-test/large:1")};
  t.out = std::filesystem::temp_directory_path() / "hpn-bench-save.tar";
  return t;
}

// One save of the image to a synced file, as hpn save writes an archive; with
// `checksum`, the SHA-256 sidecar digest is computed in the same pass. Returns the
// bytes saved, or 0 after reporting the error.
std::uint64_t save_once(benchmark::State& state, Target& t, bool checksum) {
  auto file = hpn::util::AtomicFile::create(t.out);
  if (!file) {
    state.SkipWithError(file.error().message.c_str());
    return 0;
  }
  hpn::util::Sha256 digest;
  auto n = t.client->save(t.names, [&](std::string_view chunk) {
    if (checksum) digest.update(chunk);
    return file->write(chunk);
  });
  if (!n) {
    state.SkipWithError(n.error().message.c_str());
    return 0;
  }
  if (checksum) benchmark::DoNotOptimize(digest.hex_digest());
  (void)file->commit();
  std::filesystem::remove(t.out);
  return *n;
}

// Throughput and peak RSS of saves with the checksum, as hpn save does them.
void BM_SaveLargestImageToFile(benchmark::State& state) {
  auto t = connect(state);
  if (!t) return;
  const double rss_before = peak_rss_mib();
  std::uint64_t total = 0;
  for (auto _ : state) {
    const auto n = save_once(state, *t, true);
    if (n == 0) return;
    total += n;
  }
  const double peak = peak_rss_mib();
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
  state.counters["image_MB"] = static_cast<double>(total) / state.iterations() / 1e6;
  state.counters["peak_rss_MiB"] = peak;
  state.counters["rss_before_MiB"] = rss_before;
  std::fprintf(stderr, "save of %s: %.1f MB per iteration, peak RSS %.1f MiB (target < 20 MiB): %s\n",
               t->names[0].c_str(), static_cast<double>(total) / state.iterations() / 1e6, peak,
               peak < 20.0 ? "PASS" : "FAIL");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// What the checksum adds to the time of a save: each iteration saves the image once
// without and once with the digest, in alternating order, so that the machine's drift
// during the run falls on both alike (running all of one kind, then all of the other,
// showed the drift as overhead: -4% to +11% between runs). Medians of the pairs.
void BM_ChecksumCost(benchmark::State& state) {
  auto t = connect(state);
  if (!t) return;
  std::vector<double> plain_ms, checksum_ms;
  bool checksum_first = false;
  for (auto _ : state) {
    for (const bool with : {checksum_first, !checksum_first}) {
      const auto t0 = std::chrono::steady_clock::now();
      if (save_once(state, *t, with) == 0) return;
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      (with ? checksum_ms : plain_ms).push_back(ms);
    }
    checksum_first = !checksum_first;
  }
  const double plain = median(plain_ms), with = median(checksum_ms);
  const double pct = 100.0 * (with - plain) / plain;
  state.counters["no_checksum_ms"] = plain;
  state.counters["checksum_ms"] = with;
  state.counters["checksum_added_pct"] = pct;
  std::fprintf(stderr, "save of %s, medians of %zu alternating pairs: %.0f ms without the checksum, %.0f ms with: %+.1f%% (target < 10%%): %s\n",
               t->names[0].c_str(), plain_ms.size(), plain, with, pct, pct < 10.0 ? "PASS" : "FAIL");
}

BENCHMARK(BM_SaveLargestImageToFile)->Unit(benchmark::kMillisecond)->Iterations(2)->Repetitions(3)->ReportAggregatesOnly()->UseRealTime();
BENCHMARK(BM_ChecksumCost)->Unit(benchmark::kMillisecond)->Iterations(9)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
