// Throughput of each codec and of SHA-256 on image-like data (half incompressible,
// half text), through the same code path hpn save uses (archive::Compressor). With
// HPN_BENCH_INPUT=FILE, on that file instead (a layer of real content, say).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include "hpn/archive/codec.hpp"
#include "hpn/util/sha256.hpp"

namespace {

const std::string& data() {
  static const std::string d = [] {
    if (const char* file = std::getenv("HPN_BENCH_INPUT"); file != nullptr && *file != '\0') {
      std::ifstream in(file, std::ios::binary);
      std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.is_open() || s.empty()) {
        std::fprintf(stderr, "HPN_BENCH_INPUT: cannot read %s, or it is empty\n", file);
        std::exit(2);
      }
      return s;
    }
    std::string s;
    constexpr std::size_t k_size = 32 << 20;
    s.reserve(k_size);
    std::mt19937_64 rng(42);
    while (s.size() < k_size / 2) {
      auto v = rng();
      s.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    while (s.size() < k_size) s += "usr/lib/x86_64-linux-gnu/libexample.so.1 layer text line ";
    s.resize(k_size);
    return s;
  }();
  return d;
}

void BM_Compress(benchmark::State& state, hpn::archive::Compression c) {
  const std::string& in = data();
  std::size_t out_bytes = 0;
  for (auto _ : state) {
    out_bytes = 0;
    auto comp = hpn::archive::Compressor::open(c, -1, 0, [&](std::string_view chunk) {
      out_bytes += chunk.size();
      return hpn::Status{};
    });
    if (!comp) {
      state.SkipWithError(comp.error().message.c_str());
      return;
    }
    for (std::size_t i = 0; i < in.size(); i += 64 * 1024) {
      (void)comp->write(std::string_view(in).substr(i, 64 * 1024));
    }
    (void)comp->finish();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
  state.counters["ratio"] = static_cast<double>(out_bytes) / static_cast<double>(in.size());
}
BENCHMARK_CAPTURE(BM_Compress, none, hpn::archive::Compression::none)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Compress, zstd, hpn::archive::Compression::zstd)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Compress, gzip, hpn::archive::Compression::gzip)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Compress, xz, hpn::archive::Compression::xz)->Unit(benchmark::kMillisecond)->Iterations(1);

// gzip as layers are compressed for a registry (archive::LayerGzip, level 1).
void BM_LayerGzip(benchmark::State& state) {
  const std::string& in = data();
  std::size_t out_bytes = 0;
  for (auto _ : state) {
    out_bytes = 0;
    auto gz = hpn::archive::LayerGzip::open(-1, [&](std::string_view chunk) {
      out_bytes += chunk.size();
      return hpn::Status{};
    });
    if (!gz) {
      state.SkipWithError(gz.error().message.c_str());
      return;
    }
    for (std::size_t i = 0; i < in.size(); i += 256 * 1024) (void)gz->write(std::string_view(in).substr(i, 256 * 1024));
    (void)gz->finish();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
  state.counters["ratio"] = static_cast<double>(out_bytes) / static_cast<double>(in.size());
}
BENCHMARK(BM_LayerGzip)->Unit(benchmark::kMillisecond);

void BM_Sha256(benchmark::State& state) {
  const std::string& in = data();
  for (auto _ : state) {
    hpn::util::Sha256 h;
    for (std::size_t i = 0; i < in.size(); i += 16 * 1024) h.update(std::string_view(in).substr(i, 16 * 1024));
    benchmark::DoNotOptimize(h.hex_digest());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Sha256)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
