#!/usr/bin/env python3
"""End-to-end comparison: Harpoon's way (one docker CLI process per image, one after
another) against hpn with 1, 2 and 4 workers, on the same images, in one run.

Scenarios (targets from the batch-operations issue, 2-core machine):
  save-mixed10  6 small, 3 x ~40 MB, 1 x ~260 MB images   hpn -j4 >= 1.35x
  save-tiny50   50 tiny images                              hpn -j4 >= 10x
  pull-mixed10  the mixed images from the local registry    hpn -j4 >= 1.35x
  pull-proxy20  20 tiny images through a proxy adding 50 ms round-trip time (to data and
                to each TCP handshake; dockerd opens a connection per request)   >= 4x
  backend-tiny50 / backend-mixed10   hpn save --backend cli (a docker process per image)
                against the API backend, both with 4 workers (reported, no target)
  backend-load-mixed10 / backend-push-tiny20   hpn load of the mixed archives and hpn push
                of 20 tiny images to the local registry, each back end (reported, no target)
  progress-mixed10   hpn save with the live progress display forced on against off:
                within 3% (rendering costs nothing measurable)
  save-gzip-mixed10  `docker save IMG | gzip > F.tar.gz` loop against
                hpn save --compress zstd / gzip         zstd >= 5x, output no larger than gzip's

On Docker 28 (the test environment's two Docker 28 daemons), against the Docker 28 CLI
loop (/usr/local/bin/docker, else the first docker on PATH) and the floor (one
`curl -Z --parallel-max 4` fetching the same exports from the socket):
  d28-save-tiny50 / d28-save-mixed10     classic store: >= 10x / >= 1.35x the CLI loop
  d28c-save-tiny50 / d28c-save-mixed10   containerd store: within 1.15x of the floor
  d28c-zstd-mixed10    containerd store: --compress zstd <= 1.1x a plain save
  d28c-rerun-mixed10   containerd store: a second save --compress zstd with nothing
                       changed saves nothing, says so, and takes < 0.5 s
Saves straight from the registry (hpn save --source registry, no daemon involved),
against skopeo (`skopeo copy docker://IMG docker-archive:F:IMG`, 4 processes at a time)
and against `hpn pull` then `hpn save` through Docker 20.10:
  registry-save-mixed10   the mixed images: >= 4x skopeo, >= 1.3x `crane pull` 4 at a
                          time, and within 1.6x of the floor (one `curl -Z
                          --parallel-max 8` fetching the distinct blobs)
  registry-save-tiny50    50 tiny images: >= 10x skopeo, >= 2x crane pull
  registry-save-proxy20   20 tiny images through the 50 ms RTT proxy: >= 4x skopeo
  registry-rerun-mixed10  a second save with nothing changed: < 0.3 s
  registry-rss-large      hpn's peak RSS while it saves the ~260 MB image: < 20 MiB
Pushes and copies straight to a registry (hpn push --archives, hpn copy: no daemon), into
an empty registry the bench starts (Debian's docker-registry, wiped before every run):
  push-archives-mixed10  the mixed images' archives from `hpn save` on Docker 20.10
                         (uncompressed layers): >= 2x `skopeo copy docker-archive:F
                         docker://REG/NAME` 4 at a time, and faster than hpn load + hpn push
                         through Docker 20.10
  copy-mixed10           the mixed images, registry to registry: >= 3x skopeo copy 4 at a
                         time, >= 1.2x crane copy 4 at a time
  copy-proxy20           20 tiny images from the registry behind the 50 ms RTT proxy: >= 4x
  copy-signed-mixed10    the mixed images, each signed and given an SBOM attestation by
                         cosign (offline, with a local key), copied with what refers to
                         them: at most 1.3x the time of copying them alone (--no-referrers)
  push-rerun-mixed10     a second push --archives with nothing changed: < 0.3 s
  sync-unchanged200      hpn sync against skopeo sync (yaml, a tag regex) of one repository
                         of 200 tags (the tiny images, four tags each) into a mirror that
                         holds them all: >= 3x
  sync-new20of200        the same with 20 of the 200 tags new at the mirror: >= 2x
Real content (four images: a debootstrapped Debian with gcc and python3, and this
machine's own gcc libraries and C headers, Python's standard library and docs, and
shared libraries; ~1.3 GB of tar):
  push-real   their archives (Docker 20.10 saves) pushed by skopeo, crane and hpn push
              --archives, 4 at a time: into an empty registry with cold caches
              (>= 4x skopeo), then into a second repository of a registry that holds
              the layers (each contender pushed them there first; skopeo's blob-info
              cache and hpn's known-blob cache are warm): >= 1.5x skopeo
  save-gzip-real   `docker save | gzip` in turn against hpn save --compress gzip (and
              zstd), 4 at a time: >= 4x
  load-gzip-real   docker load of their .tar.gz archives in turn against hpn load -j 4
              (with --baseline, the build to beat)
Copies between endpoints (hpn copy --from/--to):
  docker-podman-mixed10  Docker 20.10 into Podman: `docker save | podman load` against
                         hpn copy --from docker --to podman (reported)
  oci-write-mixed10      the mixed images from the registry into an OCI layout directory:
                         skopeo copy docker:// oci: in turn against hpn copy --to oci:
                         (reported)
containerd (the environment's containerd 1.6, and as containerd2-* its containerd
2.x with that version's ctr; namespace hpn-bench, emptied and garbage-collected
before each run; every contender unpacks into overlayfs):
  containerd-load-mixed10  the mixed images' archives: >= 3x `ctr images import`
                           one after another, >= 1.5x the same 4 at a time
  containerd-pull-mixed10  the mixed images from the local registry: >= 1.5x
                           `ctr images pull --plain-http` 4 at a time
Stress cases (Docker 20.10 and Docker 28 classic, against the CLI loop, with hpn's
peak RSS and the machine's CPU utilisation while each contender runs):
  stress-small100 / stress-large5    100 small images / 5 images of about 250 MB

The registry scenarios also print the CPU seconds per run of each contender's own
processes and of the registries serving them, and how many of the machine's CPU
seconds the target time leaves: where the registries alone use more, no client can
reach the target on this machine.

With --baseline OTHER_HPN every hpn row of every scenario runs twice, with this hpn
and with OTHER_HPN, alternating, and a closing table gives each row's time against
the baseline's (target: no row more than 3% slower).

Needs the test environment (eval "$(scripts/testenv start)") and a built hpn.
Prints medians of --repeats runs and ratios; exits 1 if a target is missed and
--check is given.
"""
import argparse
import asyncio
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE_MARK = "  before: "


def run_parallel(commands, parallel, what):
    """Each command as a process, `parallel` at a time, in order; the first failure raises."""
    pending, running = list(commands), []
    while pending or running:
        while pending and len(running) < parallel:
            running.append(subprocess.Popen(pending.pop(0), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        p = running.pop(0)
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"{what} failed: {err.decode()[-500:]}")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def cpu_times():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


def process_cpu_s(pid):
    """CPU seconds (user + system) that process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    """CPU seconds of this script's finished child processes (the contenders)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def testenv_registry_pid():
    with open(os.path.join(os.environ["HPN_TESTENV_DIR"], "registry.pid")) as f:
        return int(f.read().split()[0])


# The environment's containerds: name -> (socket variable, ctr binary variable or
# None for the system's ctr).
CONTAINERDS = {"containerd16": ("HPN_TEST_CONTAINERD16_SOCK", None),
               "containerd2": ("HPN_TEST_CONTAINERD2_SOCK", "HPN_TEST_CTR2")}


def testenv_pid_of(name):
    def get():
        with open(os.path.join(os.environ["HPN_TESTENV_DIR"], f"{name}.pid")) as f:
            return int(f.read().split()[0])
    return get


class Bench:
    def use(self, host, docker_cli=None):
        """Point the contenders at another daemon (and its CLI loop at docker_cli)."""
        self.host = host
        self.docker = [docker_cli or "docker", "-H", host]
        self.alt_docker = None

    def __init__(self, args):
        self.host = os.environ["HPN_TEST_DOCKER_HOST"]
        self.registry = os.environ["HPN_TEST_REGISTRY"]
        self.hpn = args.hpn
        self.repeats = args.repeats
        self.docker = ["docker", "-H", self.host]
        # Debian's docker.io CLI, when it is not the first docker on PATH: shown as an
        # extra row (ratios stay relative to the PATH one).
        path_docker = shutil.which("docker")
        self.alt_docker = None
        if os.path.exists("/usr/bin/docker") and path_docker and os.path.realpath(path_docker) != "/usr/bin/docker":
            self.alt_docker = ["/usr/bin/docker", "-H", self.host]
        self.work = tempfile.mkdtemp(prefix="hpn-bench.")
        self.hpn_cache = None  # a scenario's warm known-blob cache; None: a new one per run
        self.baseline = args.baseline
        self.versus = []  # (scenario, row, this hpn's median, the baseline's median)
        self.results = []
        self.peak_rss_kb = 0

    # ---- image fixtures -------------------------------------------------
    def build(self, tag, sizes_kib, seed):
        ctx = os.path.join(self.work, "ctx")
        shutil.rmtree(ctx, ignore_errors=True)
        os.makedirs(ctx)
        rnd = random.Random(seed)
        lines = ["FROM hpn-test/base:1"]
        for i, kib in enumerate(sizes_kib):
            name = f"f{i}.bin"
            with open(os.path.join(ctx, name), "wb") as f:
                half = kib * 512
                f.write(rnd.randbytes(half))  # incompressible half
                f.write((f"hpn bench {tag} {i} " * (half // 16 + 1)).encode()[:half])  # compressible half
            lines.append(f"COPY {name} /data/{name}")
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("\n".join(lines) + "\n")
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        run(self.docker + ["build", "-q", "-t", tag, ctx], env=env)

    def fixtures(self):
        mixed = []
        for i in range(6):
            mixed.append((f"hpn-bench/small{i}:1", [1024 + 256 * i]))
        for i in range(3):
            mixed.append((f"hpn-bench/medium{i}:1", [20 * 1024, 20 * 1024]))
        mixed.append(("hpn-bench/large:1", [130 * 1024, 130 * 1024]))
        t0 = time.perf_counter()
        for seed, (tag, sizes) in enumerate(mixed):
            self.build(tag, sizes, seed)
        tiny = [f"hpn-bench/tiny{i}:1" for i in range(50)]
        for i, tag in enumerate(tiny):
            self.import_tiny(tag, i)
        print(f"# built {len(mixed) + len(tiny)} images in {time.perf_counter() - t0:.1f}s", flush=True)
        return [t for t, _ in mixed], tiny

    def import_tiny(self, tag, i):
        """A one-layer image of a few kB (docker import of a tiny root filesystem)."""
        ctx = os.path.join(self.work, "tiny")
        shutil.rmtree(ctx, ignore_errors=True)
        os.makedirs(os.path.join(ctx, "etc"))
        with open(os.path.join(ctx, "etc", "tiny"), "w") as f:
            f.write(f"tiny image {i}\n" * (i + 1))
        tar = subprocess.run(["tar", "-C", ctx, "-cf", "-", "."], check=True, capture_output=True).stdout
        subprocess.run(self.docker + ["import", "-", tag], input=tar, check=True, stdout=subprocess.DEVNULL)

    def push_all(self, images):
        for img in images:
            remote = f"{self.registry}/{img}"
            run(self.docker + ["tag", img, remote])
            run(self.docker + ["push", "-q", remote])
            run(self.docker + ["rmi", remote])

    def rmi(self, images):
        subprocess.run(self.docker + ["rmi", "-f"] + images, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # ---- contenders -------------------------------------------------------
    def cli_save(self, images, out, docker=None):
        for img in images:
            stem = img.replace("/", "_").replace(":", "_")
            run((docker or self.docker) + ["save", "-o", os.path.join(out, stem + ".tar"), img])

    def curl_save(self, images, out):
        args = ["curl", "-sf", "-Z", "--parallel-max", "4", "--unix-socket", self.host[len("unix://"):]]
        for img in images:
            stem = img.replace("/", "_").replace(":", "_")
            args += ["-o", os.path.join(out, stem + ".tar"), "http://docker/images/get?names=" + img.replace("/", "%2F").replace(":", "%3A")]
        run(args)

    def cli_save_gzip(self, images, out):
        for img in images:
            stem = img.replace("/", "_").replace(":", "_")
            subprocess.run(" ".join(self.docker) + f" save {img} | gzip > {os.path.join(out, stem + '.tar.gz')}",
                           shell=True, check=True, executable="/bin/bash")

    def hpn_run(self, verb, images, workers, extra=(), capture=False):
        lst = os.path.join(self.work, "list.txt")
        with open(lst, "w") as f:
            f.write("\n".join(images) + "\n")
        env = dict(os.environ, DOCKER_HOST=self.host, HPN_CACHE_DIR=self.cache_for_run())
        quiet = [] if "--progress" in extra or capture else ["-q"]
        # Peak RSS of each hpn run, from GNU time.
        rss = os.path.join(self.work, "rss")
        timer = ["/usr/bin/time", "-f", "%M", "-o", rss] if os.path.exists("/usr/bin/time") else []
        if capture:
            r = subprocess.run(timer + [self.hpn, verb, *quiet, "-j", str(workers), "-f", lst, *extra], env=env,
                               check=True, capture_output=True, text=True)
        else:
            run(timer + [self.hpn, verb, *quiet, "-j", str(workers), "-f", lst, *extra], env=env)
        if timer:
            with open(rss) as f:
                self.peak_rss_kb = max(self.peak_rss_kb, int(f.read().split()[-1]))
        return r.stdout if capture else None

    def cli_pull(self, images, docker=None):
        for img in images:
            run((docker or self.docker) + ["pull", "-q", img])

    # ---- measurement ------------------------------------------------------
    @staticmethod
    def emptier(out):
        """The setup of a save contender: an empty output directory."""
        def clean():
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
        return clean

    def with_binary(self, binary, fn):
        """fn run with another hpn binary."""
        def run_it():
            saved, self.hpn = self.hpn, binary
            try:
                fn()
            finally:
                self.hpn = saved
        return run_it

    def measure(self, scenario, contenders, setup, target, sizes=None, ceiling=False, base_row=0, stats=False,
                what=None, servers=None, preps=None):
        """Median times; the ratio of each row is base_row's median over its own.
        `what` names the row the target applies to (default: the hpn -j 4 row).
        With a baseline, each hpn row gets a twin run with the baseline binary.
        `servers` ({label: function giving a pid}): also the CPU seconds that each of
        these processes and the contender's own processes use per run, and what that
        leaves of the machine's cores for the target time. `preps` ({contender: function}):
        run after the setup and before the clock starts, for that contender only."""
        base_name = contenders[base_row][0]
        if self.baseline:
            twins = []
            for name, fn in contenders:
                twins.append((name, fn))
                if name.startswith("hpn"):
                    twins.append((BASELINE_MARK + name, self.with_binary(self.baseline, fn)))
            contenders = twins
            base_row = [name for name, _ in contenders].index(base_name)
        times = {name: [] for name, _ in contenders}
        cpu = {name: [] for name, _ in contenders}
        rss = {name: 0 for name, _ in contenders}
        labels = ["client processes"] + list(servers or {})
        used = {name: {label: [] for label in labels} for name, _ in contenders}
        for rep in range(self.repeats):
            order = contenders[rep % len(contenders):] + contenders[:rep % len(contenders)]
            for name, fn in order:
                setup()
                (preps or {}).get(name, lambda: None)()
                self.peak_rss_kb = 0
                pids = {label: get() for label, get in (servers or {}).items()}
                s0 = {label: process_cpu_s(pid) for label, pid in pids.items()}
                c0 = children_cpu_s()
                b0, t0j = cpu_times()
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                b1, t1j = cpu_times()
                cpu[name].append((b1 - b0) / max(1, t1j - t0j))
                rss[name] = max(rss[name], self.peak_rss_kb)
                used[name]["client processes"].append(children_cpu_s() - c0)
                for label, pid in pids.items():
                    used[name][label].append(process_cpu_s(pid) - s0[label])
        base = statistics.median(times[contenders[base_row][0]])
        print(f"\n## {scenario} (median of {self.repeats})")
        extra = f"{'CPU':>6}{'hpn RSS':>10}" if stats else ""
        print(f"{'contender':<32}{'median s':>10}{'ratio':>8}{extra}   runs")
        best = 0.0
        for name, _ in contenders:
            med = statistics.median(times[name])
            ratio = base / med if med > 0 else float("inf")
            chosen = name == what if what else (name.startswith("hpn") and "-j 4" in name and "gzip" not in name and
                                                "never" not in name)
            if chosen:
                best = ratio
            runs = " ".join(f"{t:.2f}" for t in times[name])
            more = ""
            if stats:
                util = f"{100 * statistics.median(cpu[name]):.0f}%"
                peak = f"{rss[name] / 1024:.1f} MiB" if rss[name] else "-"
                more = f"{util:>6}{peak:>10}"
            print(f"{name:<32}{med:>10.3f}{ratio:>7.2f}x{more}   {runs}")
        if sizes:
            for name, size in sizes.items():
                print(f"output {name:<21}{size / 1e6:>10.1f} MB")
        one = [n for n, _ in contenders if n.startswith("hpn") and n.endswith("-j 1")]
        if ceiling and one:
            # Latency-bound: each pull is the daemon's round trips from start to end, and
            # 4 workers run at most 4 at once, so 4 x the one-worker ratio bounds the
            # 4-worker ratio (unless hpn makes each pull cheaper than -j 1 does).
            r1 = base / statistics.median(times[one[0]])
            print(f"ceiling: 4 workers overlapping perfectly, 4 x the -j 1 ratio: {4 * r1:.2f}x")
        for name, _ in contenders:
            if name.startswith(BASELINE_MARK):
                own = name[len(BASELINE_MARK):]
                self.versus.append((scenario, own, statistics.median(times[own]), statistics.median(times[name])))
        if servers:
            cores = os.cpu_count() or 1
            print(f"CPU seconds per run (medians): {', '.join(labels)}; their sum over {cores} cores")
            for name, _ in contenders:
                meds = [statistics.median(used[name][label]) for label in labels]
                print(f"  {name:<30}" + "".join(f"{m:>8.2f}" for m in meds) + f"{sum(meds) / cores:>8.2f} s")
            chosen = what or contenders[-1][0]
            servers_s = sum(statistics.median(used[chosen][label]) for label in labels[1:])
            print(f"the target time, {base / target:.3f} s, leaves {cores} x {base / target:.3f} = "
                  f"{cores * base / target:.2f} CPU seconds; the servers alone took {servers_s:.2f} of them "
                  f"under {chosen}")
        verdict = "PASS" if best >= target else "MISS"
        row = what or "hpn -j 4"
        print(f"target: ratio of {row} to '{contenders[base_row][0].strip()}' >= {target}x: {best:.2f}x {verdict}",
              flush=True)
        self.results.append((scenario, best, target, verdict))
        return times

    def save_scenario(self, name, images, target):
        out = os.path.join(self.work, "out")
        clean = self.emptier(out)

        contenders = [("harpoon (docker save loop)", lambda: self.cli_save(images, out))]
        if self.alt_docker:
            contenders.append(("  same, /usr/bin/docker", lambda: self.cli_save(images, out, self.alt_docker)))
        for j in (1, 2, 4):
            contenders.append((f"hpn save -j {j}", lambda j=j: self.hpn_run("save", images, j, ("-p", out))))
        if shutil.which("curl") and self.host.startswith("unix://"):
            # Reference, no target: the same exports with one curl process, 4 parallel
            # transfers on the socket, no checksum, no .part, no sync.
            contenders.append(("  ref: curl -Z, 4 parallel", lambda: self.curl_save(images, out)))
        self.measure(name, contenders, clean, target)
        shutil.rmtree(out, ignore_errors=True)

    def save_gzip_scenario(self, name, images, target):
        out = os.path.join(self.work, "out")
        sizes = {}
        clean = self.emptier(out)

        def du():
            return sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if not f.endswith(".sha256"))

        def cli():
            self.cli_save_gzip(images, out)
            sizes["docker save | gzip"] = du()

        def hpn(codec):
            self.hpn_run("save", images, 4, ("-p", out, "--compress", codec))
            sizes[f"hpn --compress {codec}"] = du()

        contenders = [("harpoon (docker save | gzip)", cli),
                      ("hpn save -j 4 --compress zstd", lambda: hpn("zstd")),
                      ("hpn save -j 4 --compress gzip", lambda: hpn("gzip"))]
        self.measure(name, contenders, clean, target, sizes)
        z, g = sizes.get("hpn --compress zstd", 0), sizes.get("docker save | gzip", 1)
        print(f"zstd output vs gzip output: {z / g:.3f} ({'no larger' if z <= g else 'LARGER'})")
        shutil.rmtree(out, ignore_errors=True)

    def load_gzip_scenario(self, name, images):
        """hpn load of `images` saved as .tar.gz, against docker load of the same files
        in turn (with --baseline: against the other hpn too)."""
        out = os.path.join(self.work, "gz-archives")
        shutil.rmtree(out, ignore_errors=True)
        self.hpn_run("save", images, 4, ("-p", out, "--compress", "gzip"))
        files = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".tar.gz"))

        def docker_load():
            for f in files:
                run(self.docker + ["load", "-q", "-i", f])
        contenders = [("docker load, in turn", docker_load),
                      ("hpn load -j 4", lambda: self.hpn_plain(["load", "-q", "-j", "4", out]))]
        self.measure(name, contenders, lambda: None, 1.0, what="hpn load -j 4", stats=True)
        shutil.rmtree(out, ignore_errors=True)

    def backend_scenario(self, name, images):
        out = os.path.join(self.work, "out")
        clean = self.emptier(out)

        contenders = [("hpn save -j 4 --backend cli", lambda: self.hpn_run("save", images, 4, ("-p", out, "--backend", "cli"))),
                      ("hpn save -j 4 (api)", lambda: self.hpn_run("save", images, 4, ("-p", out)))]
        self.measure(name, contenders, clean, 1.0)
        shutil.rmtree(out, ignore_errors=True)

    def backend_load_scenario(self, name, images):
        """hpn load of hpn save's archives of `images`, through each back end."""
        out = os.path.join(self.work, "archives")
        shutil.rmtree(out, ignore_errors=True)
        self.hpn_run("save", images, 4, ("-p", out))
        contenders = [("hpn load -j 4 --backend cli", lambda: self.hpn_load(out, ("--backend", "cli"))),
                      ("hpn load -j 4 (api)", lambda: self.hpn_load(out, ()))]
        self.measure(name, contenders, lambda: None, 1.0)
        shutil.rmtree(out, ignore_errors=True)

    def hpn_load(self, directory, extra):
        env = dict(os.environ, DOCKER_HOST=self.host)
        run([self.hpn, "load", "-q", "-j", "4", *extra, directory], env=env)

    def backend_push_scenario(self, name, images):
        """hpn push of `images` to the local registry (each run its own project), each back end."""
        runs = iter(range(1_000_000))
        contenders = [("hpn push -j 4 --backend cli",
                       lambda: self.hpn_run("push", images, 4, ("-r", self.registry, "-p", f"bench{next(runs)}", "--backend", "cli"))),
                      ("hpn push -j 4 (api)",
                       lambda: self.hpn_run("push", images, 4, ("-r", self.registry, "-p", f"bench{next(runs)}")))]
        self.measure(name, contenders, lambda: None, 1.0)

    def progress_scenario(self, name, images):
        out = os.path.join(self.work, "out")
        clean = self.emptier(out)

        contenders = [("hpn save -j 4 --progress never", lambda: self.hpn_run("save", images, 4, ("-p", out, "--progress", "never"))),
                      ("hpn save -j 4 --progress always", lambda: self.hpn_run("save", images, 4, ("-p", out, "--progress", "always")))]
        # hpn_run passes -q, which turns the display off; use the plain form here.
        self.measure(name, contenders, clean, 0.97)
        shutil.rmtree(out, ignore_errors=True)

    def floor_scenario(self, name, images, target, against_floor):
        """Save on the daemon in use: its CLI loop, hpn, and the floor (curl -Z). The target
        is against the CLI loop, or (against_floor) hpn -j 4 within 1/target of the floor."""
        out = os.path.join(self.work, "out")
        clean = self.emptier(out)

        contenders = [("CLI loop (docker save)", lambda: self.cli_save(images, out))]
        for j in (1, 2, 4):
            contenders.append((f"hpn save -j {j}", lambda j=j: self.hpn_run("save", images, j, ("-p", out))))
        contenders.append(("floor: curl -Z, 4 parallel", lambda: self.curl_save(images, out)))
        self.measure(name, contenders, clean, target, base_row=len(contenders) - 1 if against_floor else 0)
        shutil.rmtree(out, ignore_errors=True)

    def zstd_cost_scenario(self, name, images, target):
        out = os.path.join(self.work, "out")
        clean = self.emptier(out)

        contenders = [("hpn save -j 4 (plain)", lambda: self.hpn_run("save", images, 4, ("-p", out))),
                      ("hpn save -j 4 --compress zstd", lambda: self.hpn_run("save", images, 4, ("-p", out, "--compress", "zstd")))]
        self.measure(name, contenders, clean, target, what="hpn save -j 4 --compress zstd")
        shutil.rmtree(out, ignore_errors=True)

    def rerun_scenario(self, name, images, limit_s):
        out = os.path.join(self.work, "out")
        shutil.rmtree(out, ignore_errors=True)
        self.hpn_run("save", images, 4, ("-p", out, "--compress", "zstd"))
        times, said = [], True
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            text = self.hpn_run("save", images, 4, ("-p", out, "--compress", "zstd", "--progress", "never"), capture=True)
            times.append(time.perf_counter() - t0)
            said = said and f"({len(images)} unchanged)" in text
        med = statistics.median(times)
        ok = said and med < limit_s
        verdict = "PASS" if ok else "MISS"
        print(f"\n## {name} (median of {self.repeats})")
        print(f"second save --compress zstd, nothing changed: {med:.3f} s ({' '.join(f'{t:.2f}' for t in times)}); "
              f"says '{len(images)} unchanged': {'yes' if said else 'NO'}")
        print(f"target: under {limit_s} s and nothing saved: {verdict}", flush=True)
        self.results.append((name, limit_s / med if med > 0 else float("inf"), 1.0, verdict))
        shutil.rmtree(out, ignore_errors=True)

    def stress_scenario(self, name, images):
        out = os.path.join(self.work, "out")
        clean = self.emptier(out)

        contenders = [("CLI loop (docker save)", lambda: self.cli_save(images, out)),
                      ("hpn save -j 4", lambda: self.hpn_run("save", images, 4, ("-p", out)))]
        self.measure(name, contenders, clean, 1.0, stats=True)
        shutil.rmtree(out, ignore_errors=True)

    def stress_fixtures(self):
        small = [f"hpn-stress/small{i}:1" for i in range(100)]
        for i, tag in enumerate(small):
            self.import_blob(tag, 1024 + 8 * i, i)
        large = [f"hpn-stress/large{i}:1" for i in range(5)]
        for i, tag in enumerate(large):
            self.build(tag, [125 * 1024, 125 * 1024], 1000 + i)
        return small, large

    def import_blob(self, tag, kib, seed):
        """A one-layer image holding one file of `kib` KiB, half random."""
        ctx = os.path.join(self.work, "blob")
        shutil.rmtree(ctx, ignore_errors=True)
        os.makedirs(ctx)
        rnd = random.Random(seed)
        half = kib * 512
        with open(os.path.join(ctx, "data.bin"), "wb") as f:
            f.write(rnd.randbytes(half))
            f.write((f"hpn stress {seed} " * (half // 12 + 1)).encode()[:half])
        tar = subprocess.run(["tar", "-C", ctx, "-cf", "-", "."], check=True, capture_output=True).stdout
        subprocess.run(self.docker + ["import", "-", tag], input=tar, check=True, stdout=subprocess.DEVNULL)

    def pull_scenario(self, name, registry, images, target, workers=(1, 2, 4), ceiling=False):
        remote = [f"{registry}/{img}" for img in images]
        contenders = [("harpoon (docker pull loop)", lambda: self.cli_pull(remote))]
        if self.alt_docker:
            contenders.append(("  same, /usr/bin/docker", lambda: self.cli_pull(remote, self.alt_docker)))
        for j in workers:
            contenders.append((f"hpn pull -j {j}", lambda j=j: self.hpn_run("pull", remote, j)))
        self.measure(name, contenders, lambda: self.rmi(remote), target, ceiling=ceiling)
        self.rmi(remote)


    # ---- saves straight from the registry -----------------------------------
    @staticmethod
    def stem(img):
        return img.replace("/", "_").replace(":", "_")

    def skopeo_save(self, remote, out, parallel=4):
        """skopeo copy docker://IMG docker-archive:F:IMG, `parallel` processes at a time."""
        run_parallel([["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{img}",
                       f"docker-archive:{os.path.join(out, self.stem(img) + '.tar')}:{img}"] for img in remote],
                     parallel, "skopeo")

    def distinct_blobs(self, registry, images):
        """URLs of the config and layer blobs of `images` (each once), from their manifests."""
        import json
        import urllib.request
        urls = {}
        for img in images:
            name, tag = img.rsplit(":", 1)
            req = urllib.request.Request(f"http://{registry}/v2/{name}/manifests/{tag}", headers={
                "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
            m = json.load(urllib.request.urlopen(req))
            for d in [m["config"]] + m["layers"]:
                urls[d["digest"]] = f"http://{registry}/v2/{name}/blobs/{d['digest']}"
        return list(urls.items())

    def curl_blobs(self, blobs, out):
        args = ["curl", "-sf", "-Z", "--parallel-max", "8"]
        for digest, url in blobs:
            args += ["-o", os.path.join(out, digest[7:]), url]
        run(args)

    def registry_save(self, remote, out, workers, extra=()):
        self.hpn_run("save", remote, workers, ("--source", "registry", "-p", out, *extra))

    def registry_scenario(self, name, registry, images, target, floor=None, through_docker=False, workers=(4,),
                          crane_target=None):
        out = os.path.join(self.work, "out")
        remote = [f"{registry}/{img}" for img in images]
        clean = self.emptier(out)
        contenders = [("skopeo copy, 4 at a time", lambda: self.skopeo_save(remote, out))]
        if self.have_crane():
            # crane pull writes a docker-loadable tarball, the layers as the registry holds them.
            contenders.append(("crane pull, 4 at a time", lambda: self.crane_many(
                [(r, os.path.join(out, self.stem(r) + ".tar")) for r in remote], verb="pull")))
        if through_docker:
            def pull_save():
                self.hpn_run("pull", remote, 4)
                self.hpn_run("save", remote, 4, ("-p", out))
            contenders.append(("hpn pull + hpn save (Docker 20.10)", pull_save))
        for j in workers:
            contenders.append((f"hpn save --source registry -j {j}", lambda j=j: self.registry_save(remote, out, j)))
        if floor:
            blobs = self.distinct_blobs(registry, images)
            contenders.append(("floor: curl -Z blobs, 8 parallel", lambda: self.curl_blobs(blobs, out)))

        def setup():
            clean()
            if through_docker:
                self.rmi(remote)
        best = f"hpn save --source registry -j {workers[-1]}"
        times = self.measure(name, contenders, setup, target, what=best,
                             servers={"registry": testenv_registry_pid} if registry == self.registry else None)
        if crane_target:
            self.peer_target(name, times, "crane pull, 4 at a time", best, crane_target)
        if floor:
            ratio = statistics.median(times[contenders[-1][0]]) / statistics.median(times[best])
            verdict = "PASS" if ratio >= 1 / floor else "MISS"
            print(f"target: {best} within {floor}x of the floor: {1 / ratio:.2f}x {verdict}", flush=True)
            self.results.append((name + " vs floor", ratio, round(1 / floor, 3), verdict))
        if through_docker:
            self.rmi(remote)
        shutil.rmtree(out, ignore_errors=True)

    def peer_target(self, scenario, times, peer, row, target):
        """A second target of one scenario: `row` at least `target` times as fast as `peer`."""
        if peer not in times:
            return
        ratio = statistics.median(times[peer]) / statistics.median(times[row])
        verdict = "PASS" if ratio >= target else "MISS"
        print(f"target: ratio of {row} to '{peer}' >= {target}x: {ratio:.2f}x {verdict}", flush=True)
        self.results.append((f"{scenario} vs {peer.split()[0]}", ratio, target, verdict))

    def registry_rerun_scenario(self, name, images, limit_s):
        out = os.path.join(self.work, "out")
        remote = [f"{self.registry}/{img}" for img in images]
        shutil.rmtree(out, ignore_errors=True)
        self.registry_save(remote, out, 4)
        self.unchanged_reruns(name, "second save --source registry", len(images), limit_s, lambda: self.hpn_run(
            "save", remote, 4, ("--source", "registry", "-p", out, "--progress", "never"), capture=True))
        shutil.rmtree(out, ignore_errors=True)

    # ---- pushes and copies straight to a registry ------------------------------
    def skopeo_many(self, pairs, parallel=4):
        """skopeo copy SRC DST for each pair, `parallel` processes at a time."""
        run_parallel([["skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", src, dst]
                      for src, dst in pairs], parallel, "skopeo")

    def cache_for_run(self):
        """The known-blob cache of one hpn run: the scenario's (a warm cache), else a
        new, empty one, so that no run profits from another."""
        return self.hpn_cache or tempfile.mkdtemp(dir=self.work, prefix="hpn-cache.")

    def hpn_plain(self, args, capture=False):
        env = dict(os.environ, DOCKER_HOST=self.host, HPN_CACHE_DIR=self.cache_for_run())
        rss = os.path.join(self.work, "rss")
        timer = ["/usr/bin/time", "-f", "%M", "-o", rss] if os.path.exists("/usr/bin/time") else []
        r = subprocess.run(timer + [self.hpn, *args], env=env, check=True, capture_output=True, text=True)
        if timer:
            with open(rss) as f:
                self.peak_rss_kb = max(self.peak_rss_kb, int(f.read().split()[-1]))
        return r.stdout

    def archives_of(self, images):
        out = os.path.join(self.work, "archives")
        shutil.rmtree(out, ignore_errors=True)
        self.hpn_run("save", images, 4, ("-p", out))
        return out, {img: os.path.join(out, self.stem(img) + ".tar") for img in images}

    def push_archives_scenario(self, name, scratch, images, target):
        out, files = self.archives_of(images)
        dst = scratch.addr

        def load_push():
            self.rmi(images)
            self.hpn_plain(["load", "-q", "-j", "4", out])
            self.hpn_run("push", images, 4, ("-r", dst))
        contenders = [
            ("skopeo copy docker-archive:, 4 at a time",
             lambda: self.skopeo_many([(f"docker-archive:{files[i]}", f"docker://{dst}/{i}") for i in images])),
            ("hpn load + hpn push (Docker 20.10)", load_push),
            ("hpn push --archives -j 4", lambda: self.hpn_plain(["push", "-q", "--archives", "-j", "4", out, "-r", dst])),
        ]
        times = self.measure(name, contenders, scratch.wipe, target, what="hpn push --archives -j 4",
                             servers={"target registry": lambda: scratch.proc.pid})
        ratio = statistics.median(times[contenders[1][0]]) / statistics.median(times[contenders[2][0]])
        verdict = "PASS" if ratio > 1 else "MISS"
        print(f"target: faster than hpn load + hpn push: {ratio:.2f}x {verdict}", flush=True)
        self.results.append((name + " vs load+push", ratio, 1.0, verdict))
        # The images must be in the daemon again for later scenarios.
        self.hpn_plain(["load", "-q", "-j", "4", out])

    def real_fixtures(self):
        """Four single-layer images of real content, imported into Docker 20.10 once: a
        debootstrapped Debian with gcc and python3 (scripts/get-debian-rootfs); this
        machine's gcc libraries and C headers; Python's standard library and the
        package docs; ~300 MB of shared libraries. Real content, as the random bytes
        of the other fixtures are not."""
        rootfs = subprocess.run([os.path.join(ROOT, "scripts", "get-debian-rootfs")], check=True,
                                capture_output=True, text=True).stdout.strip()
        libs, total = [], 0
        root = "/usr/lib/x86_64-linux-gnu"
        for dirpath, dirnames, filenames in sorted(os.walk(root)):
            dirnames.sort()
            for f in sorted(filenames):
                path = os.path.join(dirpath, f)
                if os.path.isfile(path) and not os.path.islink(path) and total < 300 << 20:
                    libs.append(os.path.relpath(path, "/"))
                    total += os.path.getsize(path)
        lst = os.path.join(self.work, "real-libs.txt")
        with open(lst, "w") as f:
            f.write("\n".join(libs) + "\n")
        parts = {
            "hpn-bench/real-debian:1": f"--exclude=./.hpn-complete -C {rootfs} .",
            "hpn-bench/real-gcc:1": "usr/lib/gcc usr/include",
            "hpn-bench/real-python:1": "usr/lib/python3.11 usr/lib/python3 usr/share/doc",
            "hpn-bench/real-libs:1": f"-T {lst}",
        }
        for tag, what in parts.items():
            have = subprocess.run(self.docker + ["image", "inspect", tag], capture_output=True)
            if have.returncode != 0:
                subprocess.run(f"tar -C / -cf - {what} 2>/dev/null | {' '.join(self.docker)} import - {tag}", shell=True,
                               check=True, executable="/bin/bash", stdout=subprocess.DEVNULL)
        return list(parts)

    @staticmethod
    def have_crane():
        return os.path.exists(os.environ.get("HPN_TEST_CRANE", "")) or shutil.which("crane")

    def crane_many(self, pairs, parallel=4, verb="push"):
        """crane VERB SRC DST (push FILE REF, pull REF FILE, copy REF REF) for each pair,
        `parallel` processes at a time."""
        crane = os.environ.get("HPN_TEST_CRANE", "crane")
        run_parallel([[crane, verb, "--insecure", src, dst] for src, dst in pairs], parallel, "crane")

    SKOPEO_BLOB_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb"

    def push_real_scenarios(self, scratch, images, cold_target, warm_target):
        """Push of the real-content archives (Docker 20.10 saves: plain layers) by
        skopeo, crane and hpn, 4 at a time: into an empty registry with every cache
        cold, then into a second repository of a registry holding the layers, which
        each contender pushed there first (skopeo and hpn then have a warm cache;
        crane has none)."""
        out, files = self.archives_of(images)
        dst = scratch.addr
        have_crane = self.have_crane()

        def skopeo_to(repo):
            return lambda: self.skopeo_many([(f"docker-archive:{files[i]}", f"docker://{dst}/{repo}/{i}")
                                             for i in images])

        def crane_to(repo):
            return lambda: self.crane_many([(files[i], f"{dst}/{repo}/{i}") for i in images])

        def hpn_to(project):
            return lambda: self.hpn_plain(["push", "-q", "--archives", "-j", "4", out, "-r", dst, "-p", project])

        def cold():
            scratch.wipe()
            if os.path.exists(self.SKOPEO_BLOB_CACHE):
                os.remove(self.SKOPEO_BLOB_CACHE)
        contenders = [("skopeo, 4 at a time", skopeo_to("first"))]
        if have_crane:
            contenders.append(("crane push, 4 at a time", crane_to("first")))
        contenders.append(("hpn push --archives -j 4", hpn_to("first")))
        self.measure("push-real (empty registry, cold caches)", contenders, cold, cold_target,
                     what="hpn push --archives -j 4", stats=True,
                     servers={"target registry": lambda: scratch.proc.pid})

        warm_dir = os.path.join(self.work, "hpn-warm-cache")
        saved_baseline, self.baseline = self.baseline, ""  # no cache in a baseline to compare with

        def hpn_warm(fn):
            def run_it():
                self.hpn_cache = warm_dir
                try:
                    fn()
                finally:
                    self.hpn_cache = None
            return run_it

        def cold_hpn():
            cold()
            shutil.rmtree(warm_dir, ignore_errors=True)
        contenders = [("skopeo, warm blob-info cache", skopeo_to("second"))]
        preps = {"skopeo, warm blob-info cache": skopeo_to("first")}
        if have_crane:
            contenders.append(("crane push (no cache)", crane_to("second")))
            preps["crane push (no cache)"] = crane_to("first")
        contenders.append(("hpn push --archives -j 4, warm", hpn_warm(hpn_to("second"))))
        preps["hpn push --archives -j 4, warm"] = hpn_warm(hpn_to("first"))
        try:
            self.measure("push-known-real (layers in another repository)", contenders, cold_hpn, warm_target,
                         what="hpn push --archives -j 4, warm", stats=True, preps=preps,
                         servers={"target registry": lambda: scratch.proc.pid})
        finally:
            self.baseline = saved_baseline

    @staticmethod
    def upload_blobs(registry, blobs, parallel=8):
        """POST + PUT each (digest, bytes) to registry, `parallel` at a time: the target's ingest alone."""
        import http.client
        import urllib.parse
        from concurrent.futures import ThreadPoolExecutor

        def one(item):
            digest, data = item
            c = http.client.HTTPConnection(registry, timeout=120)
            c.request("POST", "/v2/hpn-floor/blobs/uploads/", body=b"")
            r = c.getresponse()
            r.read()
            loc = urllib.parse.urlsplit(r.getheader("Location"))
            path = loc.path + "?" + (loc.query + "&" if loc.query else "") + "digest=" + digest
            c.request("PUT", path, body=data, headers={"Content-Type": "application/octet-stream"})
            r = c.getresponse()
            r.read()
            if r.status != 201:
                raise RuntimeError(f"floor upload of {digest}: HTTP {r.status}")
            c.close()
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(one, blobs))

    def copy_scenario(self, name, scratch, source, images, target, workers=(4,), floor=False, crane_target=None):
        remote = [f"{source}/{img}" for img in images]
        lst = os.path.join(self.work, "copy-list.txt")
        with open(lst, "w") as f:
            f.write("\n".join(remote) + "\n")
        dst = scratch.addr
        contenders = [("skopeo copy docker:// docker://, 4 at a time",
                       lambda: self.skopeo_many([(f"docker://{r}", f"docker://{dst}/{i}") for r, i in zip(remote, images)]))]
        if self.have_crane():
            contenders.append(("crane copy, 4 at a time",
                               lambda: self.crane_many([(r, f"{dst}/{i}") for r, i in zip(remote, images)], verb="copy")))
        for j in workers:
            contenders.append((f"hpn copy -j {j}",
                               lambda j=j: self.hpn_plain(["copy", "-q", "-j", str(j), "-f", lst, "-r", dst])))
        if floor:
            # The target's own cost of taking the distinct blobs, sent from memory.
            import urllib.request
            blobs = [(d, urllib.request.urlopen(u).read()) for d, u in self.distinct_blobs(source, images)]
            contenders.append(("floor: the blobs' uploads alone, 8 parallel",
                               lambda: self.upload_blobs(dst, blobs)))
        times = self.measure(name, contenders, scratch.wipe, target, what=f"hpn copy -j {workers[-1]}",
                             servers={"target registry": lambda: scratch.proc.pid,
                                      "source registry": testenv_registry_pid} if floor else None)
        if crane_target:
            self.peer_target(name, times, "crane copy, 4 at a time", f"hpn copy -j {workers[-1]}", crane_target)

    def copy_signed_scenario(self, name, scratch, images, cost_ceiling):
        """The mixed images in a registry of their own, each signed and given an SPDX
        SBOM attestation by cosign (a local key, a signing config with no service, a
        trust root of its own: no host outside this machine is asked), copied by hpn
        with their referrers against the same copy with --no-referrers."""
        cosign = os.environ.get("HPN_TEST_COSIGN", "")
        if not os.path.exists(cosign):
            print(f"{name}: skipped, no cosign (HPN_TEST_COSIGN; scripts/testenv)")
            return
        signed = ScratchRegistry(os.path.join(self.work, "signed"))
        try:
            keys = os.path.join(self.work, "cosign")
            os.makedirs(keys, exist_ok=True)
            env = dict(os.environ, COSIGN_PASSWORD="", TUF_ROOT=os.path.join(keys, "tuf"))

            def run_cosign(*args):
                r = subprocess.run([cosign, *args], cwd=keys, env=env, capture_output=True, text=True)
                if r.returncode != 0:
                    raise RuntimeError(f"cosign {' '.join(args)}: {r.stdout}{r.stderr}")
            if not os.path.exists(os.path.join(keys, "cosign.key")):
                run_cosign("generate-key-pair")
            run_cosign("signing-config", "create", "--no-default-fulcio", "--no-default-oidc", "--no-default-rekor",
                       "--no-default-tsa", "--out", "signing.json")
            run_cosign("trusted-root", "create", "--out", "trusted-root.json")
            with open(os.path.join(keys, "sbom.json"), "w") as f:
                f.write('{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT",'
                        '"name":"hpn-bench","documentNamespace":"https://spdx.invalid/hpn-bench",'
                        '"creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: hpn-bench"]},'
                        '"packages":[]}')
            self.hpn_plain(["copy", "-q", "-j", "4", "-r", signed.addr, "-p", "hpn-bench",
                            *[f"{self.registry}/{i}" for i in images]])
            plain = ["--allow-insecure-registry", "--allow-http-registry", "-y"]
            keyed = ["--key", "cosign.key", "--signing-config", "signing.json", "--trusted-root", "trusted-root.json"]
            for img in images:
                ref = f"{signed.addr}/{img}"
                run_cosign("sign", *keyed, *plain, ref)
                run_cosign("attest", *keyed, "--type", "spdxjson", "--predicate", "sbom.json", *plain, ref)
            remote = [f"{signed.addr}/{img}" for img in images]
            lst = os.path.join(self.work, "signed-list.txt")
            with open(lst, "w") as f:
                f.write("\n".join(remote) + "\n")
            dst = scratch.addr
            contenders = [
                ("hpn copy -j 4 --no-referrers (the images alone)",
                 lambda: self.hpn_plain(["copy", "-q", "-j", "4", "--no-referrers", "-f", lst, "-r", dst])),
                ("hpn copy -j 4 (signatures and attestations too)",
                 lambda: self.hpn_plain(["copy", "-q", "-j", "4", "-f", lst, "-r", dst])),
            ]
            self.measure(name, contenders, scratch.wipe, round(1 / cost_ceiling, 3),
                         what="hpn copy -j 4 (signatures and attestations too)",
                         servers={"target registry": lambda: scratch.proc.pid, "source registry": lambda: signed.proc.pid})
        finally:
            signed.stop()

    def sync_scenarios(self, tiny, unchanged_target, new_target):
        """hpn sync against skopeo sync (Debian's), a repository of 200 tags (the 50
        tiny images, four tags each) in a registry of its own, mirrored whole into a
        scratch registry: with nothing changed (both targets primed once), and with
        20 of the 200 tags new (each run's target primed with the other 180 first,
        outside the clock)."""
        import urllib.request
        source = ScratchRegistry(os.path.join(self.work, "sync-source"))
        scratch = ScratchRegistry(os.path.join(self.work, "sync-target"))
        try:
            self.hpn_plain(["copy", "-q", "-j", "4", "--to", f"registry:{source.addr}/hpn-bench/app:{{name}}-{{tag}}",
                            *[f"{self.registry}/{i}" for i in tiny]])
            accept = ", ".join(["application/vnd.oci.image.manifest.v1+json",
                                "application/vnd.docker.distribution.manifest.v2+json"])
            tags = [f"1.{k // 50}.{k % 50}" for k in range(200)]
            for k, tag in enumerate(tags):
                name = tiny[k % 50].split("/")[-1].replace(":", "-")
                with urllib.request.urlopen(urllib.request.Request(
                        f"http://{source.addr}/v2/hpn-bench/app/manifests/{name}", headers={"Accept": accept})) as r:
                    body, ctype = r.read(), r.headers["Content-Type"]
                urllib.request.urlopen(urllib.request.Request(
                    f"http://{source.addr}/v2/hpn-bench/app/manifests/{tag}", data=body, method="PUT",
                    headers={"Content-Type": ctype})).read()
            # Only the numbered tags: the ones copy made go.
            rules = os.path.join(self.work, "sync.yaml")
            with open(rules, "w") as f:
                f.write(f"sync:\n  - from: {source.addr}/hpn-bench/app\n    tags: {{regex: '1\\..*'}}\n"
                        f"    to: registry:{scratch.addr}/hpn\n")
            yaml = os.path.join(self.work, "skopeo-sync.yaml")
            with open(yaml, "w") as f:
                f.write(f"{source.addr}:\n  tls-verify: false\n  images-by-tag-regex:\n    hpn-bench/app: '^1\\..*$'\n")

            def skopeo_sync():
                run(["skopeo", "sync", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", yaml,
                     f"{scratch.addr}/skopeo"])

            def hpn_sync():
                self.hpn_plain(["sync", "-q", "-j", "4", "--insecure-registry", source.addr, "--insecure-registry",
                                scratch.addr, rules])

            contenders = [("skopeo sync (yaml, regex)", skopeo_sync), ("hpn sync -j 4", hpn_sync)]
            # Nothing changed: both mirrors primed once.
            skopeo_sync()
            hpn_sync()
            self.measure("sync-unchanged200", contenders, lambda: None, unchanged_target, what="hpn sync -j 4",
                         servers={"target registry": lambda: scratch.proc.pid,
                                  "source registry": lambda: source.proc.pid})
            # 20 new tags of 200: each mirror holds the other 180 when the clock starts.
            lst = os.path.join(self.work, "sync-180.txt")
            with open(lst, "w") as f:
                f.write("\n".join(f"{source.addr}/hpn-bench/app:{t}" for t in tags[20:]) + "\n")
            prime = {name: (lambda p=p: self.hpn_plain(["copy", "-q", "-j", "4", "-f", lst, "-r", scratch.addr,
                                                         "-p", p]))
                     for (name, _), p in zip(contenders, ["skopeo", "hpn"])}
            self.measure("sync-new20of200", contenders, scratch.wipe, new_target, what="hpn sync -j 4",
                         servers={"target registry": lambda: scratch.proc.pid,
                                  "source registry": lambda: source.proc.pid}, preps=prime)
        finally:
            scratch.stop()
            source.stop()

    def docker_podman_scenario(self, name, images, target):
        """Docker 20.10 into Podman: one `docker save | podman load` pipe for the whole
        list against hpn copy --from docker --to podman (one export streamed into one
        import per image, 4 at a time); Podman emptied of the images before each run."""
        podman = os.environ["HPN_TEST_PODMAN_HOST"]
        pod = ["podman", "--url", podman]

        def clean():
            subprocess.run(pod + ["rmi", "-f", *images], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pipe = " ".join(self.docker) + " save " + " ".join(images) + " | " + " ".join(pod) + " load -q"
        contenders = [
            ("docker save | podman load", lambda: subprocess.run(pipe, shell=True, check=True, executable="/bin/bash",
                                                                 stdout=subprocess.DEVNULL)),
            ("hpn copy docker -> podman -j 4",
             lambda: self.hpn_plain(["copy", "-q", "-j", "4", "--from", f"docker:{self.host}", "--to",
                                     f"podman:{podman}", *images])),
        ]
        self.measure(name, contenders, clean, target, what="hpn copy docker -> podman -j 4", stats=True)
        clean()

    def oci_write_scenario(self, name, images, target):
        """Registry into an OCI layout directory: skopeo copy docker:// oci:DIR:NAME, one
        image after another (skopeo's writes to one layout do not run side by side),
        against hpn copy --to oci:DIR; the directory removed before each run."""
        out = os.path.join(self.work, "oci")
        remote = [f"{self.registry}/{img}" for img in images]
        lst = os.path.join(self.work, "oci-list.txt")
        with open(lst, "w") as f:
            f.write("\n".join(remote) + "\n")

        def skopeo_loop():
            for r in remote:
                run(["skopeo", "copy", "-q", "--insecure-policy", "--src-tls-verify=false", f"docker://{r}",
                     f"oci:{out}:{r}"])
        contenders = [
            ("skopeo copy to oci:, in turn", skopeo_loop),
            ("hpn copy --to oci: -j 4", lambda: self.hpn_plain(["copy", "-q", "-j", "4", "-f", lst, "--to", f"oci:{out}"])),
        ]
        self.measure(name, contenders, lambda: shutil.rmtree(out, ignore_errors=True), target,
                     what="hpn copy --to oci: -j 4", servers={"source registry": testenv_registry_pid})

    def ctr_command(self, which):
        sock_var, ctr_var = CONTAINERDS[which]
        return [os.environ[ctr_var] if ctr_var else "ctr", "-a", os.environ[sock_var], "-n", "hpn-bench"]

    def ctr(self, which, args, check=True):
        return subprocess.run([*self.ctr_command(which), *args], check=check, capture_output=True,
                              text=True).stdout

    def containerd_clean(self, which):
        """The bench namespace emptied: its images removed, then a synchronous garbage
        collection (a lease deleted with --sync) takes their content and snapshots."""
        names = self.ctr(which, ["images", "ls", "-q"]).split()
        if names:
            self.ctr(which, ["images", "rm", *names])
        self.ctr(which, ["leases", "create", "--id", "hpn-bench-gc"], check=False)
        self.ctr(which, ["leases", "delete", "--sync", "hpn-bench-gc"], check=False)

    def hpn_containerd(self, which, args):
        sock = os.environ[CONTAINERDS[which][0]]
        self.hpn_plain(["--runtime", "containerd", "-H", f"unix://{sock}", "--namespace", "hpn-bench", *args])

    def containerd_load_scenario(self, name, which, images, target_serial, target_parallel):
        out, files = self.archives_of(images)
        imports = [[*self.ctr_command(which), "images", "import", files[i]] for i in images]
        contenders = [
            ("ctr images import, in turn", lambda: run_parallel(imports, 1, "ctr")),
            ("ctr images import, 4 at a time", lambda: run_parallel(imports, 4, "ctr")),
            ("hpn --runtime containerd load -j 4", lambda: self.hpn_containerd(which, ["load", "-q", "-j", "4", out])),
        ]
        clean = lambda: self.containerd_clean(which)  # noqa: E731
        times = self.measure(name, contenders, clean, target_serial,
                             what="hpn --runtime containerd load -j 4", stats=True,
                             servers={"containerd": testenv_pid_of(which)})
        ratio = statistics.median(times[contenders[1][0]]) / statistics.median(times[contenders[2][0]])
        verdict = "PASS" if ratio >= target_parallel else "MISS"
        print(f"target: >= {target_parallel}x ctr import 4 at a time: {ratio:.2f}x {verdict}", flush=True)
        self.results.append((name + " vs ctr -P4", ratio, target_parallel, verdict))
        clean()

    def containerd_pull_scenario(self, name, which, images, target):
        remote = [f"{self.registry}/{img}" for img in images]
        pulls = [[*self.ctr_command(which), "images", "pull", "--plain-http", r] for r in remote]
        lst = os.path.join(self.work, "containerd-pull.txt")
        with open(lst, "w") as f:
            f.write("\n".join(remote) + "\n")
        contenders = [
            ("ctr images pull, 4 at a time", lambda: run_parallel(pulls, 4, "ctr")),
            ("hpn --runtime containerd pull -j 4",
             lambda: self.hpn_containerd(which, ["pull", "-q", "-j", "4", "-f", lst])),
        ]
        clean = lambda: self.containerd_clean(which)  # noqa: E731
        self.measure(name, contenders, clean, target, what="hpn --runtime containerd pull -j 4",
                     servers={"source registry": testenv_registry_pid, "containerd": testenv_pid_of(which)})
        clean()

    def push_rerun_scenario(self, name, scratch, images, limit_s):
        out, _ = self.archives_of(images)
        scratch.wipe()
        self.hpn_plain(["push", "-q", "--archives", "-j", "4", out, "-r", scratch.addr])
        self.unchanged_reruns(name, "second push --archives", len(images), limit_s, lambda: self.hpn_plain(
            ["push", "--archives", "-j", "4", out, "-r", scratch.addr, "--progress", "never"]))

    def unchanged_reruns(self, name, what, count, limit_s, run_once):
        """Time `run_once` (a re-run with nothing changed; returns hpn's output) --repeats
        times: the median must stay under limit_s and every run say '(count unchanged)'."""
        times, said = [], True
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            text = run_once()
            times.append(time.perf_counter() - t0)
            said = said and f"({count} unchanged)" in text
        med = statistics.median(times)
        verdict = "PASS" if said and med < limit_s else "MISS"
        print(f"\n## {name} (median of {self.repeats})")
        print(f"{what}, nothing changed: {med:.3f} s ({' '.join(f'{t:.2f}' for t in times)}); "
              f"says '{count} unchanged': {'yes' if said else 'NO'}")
        print(f"target: under {limit_s} s and nothing moved: {verdict}", flush=True)
        self.results.append((name, limit_s / med if med > 0 else float("inf"), 1.0, verdict))

    def registry_rss_scenario(self, name, image, limit_mib):
        out = os.path.join(self.work, "out")
        peaks = []
        for _ in range(self.repeats):
            shutil.rmtree(out, ignore_errors=True)
            self.peak_rss_kb = 0
            self.registry_save([f"{self.registry}/{image}"], out, 4)
            peaks.append(self.peak_rss_kb / 1024)
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)) / 1e6
        peak = max(peaks)
        verdict = "PASS" if 0 < peak < limit_mib else "MISS"
        print(f"\n## {name} ({self.repeats} runs)")
        print(f"peak RSS of hpn save --source registry of {image} ({size:.0f} MB archive): "
              f"{' '.join(f'{p:.1f}' for p in peaks)} MiB")
        print(f"target: under {limit_mib} MiB: {verdict}", flush=True)
        self.results.append((name, limit_mib / peak if peak > 0 else 0.0, 1.0, verdict))
        shutil.rmtree(out, ignore_errors=True)


# ---- an empty registry of the bench's own, wiped between runs -------------------
class ScratchRegistry:
    def __init__(self, work):
        self.dir = os.path.join(work, "scratch-registry")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.addr = f"127.0.0.1:{self.port}"
        self.proc = None
        self.start()

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "config.yml")
        with open(conf, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n"
                    f"  filesystem:\n    rootdirectory: {self.dir}/data\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: {self.addr}\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        import urllib.request
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{self.addr}/v2/", timeout=1)
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("the scratch registry did not start")

    def wipe(self):
        self.stop()
        shutil.rmtree(os.path.join(self.dir, "data"), ignore_errors=True)
        self.start()

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None


# ---- a TCP proxy on loopback that delays every chunk by rtt/2 each way, and ------
# ---- a connection's first bytes by the TCP handshake's round trip too ------------
class DelayProxy:
    def __init__(self, target_port, rtt_s):
        self.target_port = target_port
        self.delay = rtt_s / 2
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    async def _pipe(self, reader, writer, not_before=0.0):
        queue = asyncio.Queue()

        async def sender():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        task = asyncio.ensure_future(sender())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                queue.put_nowait((max(self.loop.time() + self.delay, not_before), data))
        except ConnectionError:
            pass
        queue.put_nowait((0, None))
        await task

    async def _handle(self, r1, w1):
        try:
            r2, w2 = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            w1.close()
            return
        # The handshake's round trip: on a link with this RTT the client's connect()
        # returns one RTT after its SYN, so its first bytes reach the server 1.5 RTT
        # after it started to connect.
        handshake = self.loop.time() + 3 * self.delay
        await asyncio.gather(self._pipe(r1, w2, handshake), self._pipe(r2, w1), return_exceptions=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()
        server.close()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def docker28_cli():
    """The Docker 28 CLI for the loop: /usr/local/bin/docker here, else the first on PATH."""
    for c in ("/usr/local/bin/docker", shutil.which("docker")):
        if c and os.path.exists(c):
            return c
    return "docker"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hpn", default=os.path.join(ROOT, "build", "hpn"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated scenarios to run")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--baseline", default="", help="another hpn binary: every hpn row runs with both, alternating")
    args = ap.parse_args()
    if not os.environ.get("HPN_TEST_DOCKER_HOST"):
        print("skipped: HPN_TEST_DOCKER_HOST not set; run scripts/testenv start", file=sys.stderr)
        return 77
    b = Bench(args)
    only = set(filter(None, args.only.split(",")))
    want = lambda s: not only or s in only  # noqa: E731
    try:
        ver = subprocess.run(["docker", "version", "-f", "{{.Client.Version}}"], capture_output=True, text=True).stdout
        print(f"# docker CLI {shutil.which('docker')} {ver.strip()}, hpn {args.hpn}, {os.cpu_count()} cores", flush=True)
        docker20 = b.host
        mixed, tiny = b.fixtures()
        if want("save-mixed10"):
            b.save_scenario("save-mixed10", mixed, 1.35)
        if want("backend-tiny50"):
            b.backend_scenario("backend-tiny50", tiny)
        if want("backend-mixed10"):
            b.backend_scenario("backend-mixed10", mixed)
        if want("backend-load-mixed10"):
            b.backend_load_scenario("backend-load-mixed10", mixed)
        if want("backend-push-tiny20"):
            b.backend_push_scenario("backend-push-tiny20", tiny[:20])
        if want("progress-mixed10"):
            b.progress_scenario("progress-mixed10", mixed)
        if want("save-gzip-mixed10"):
            b.save_gzip_scenario("save-gzip-mixed10", mixed, 5.0)
        if want("save-tiny50"):
            b.save_scenario("save-tiny50", tiny, 10.0)
        if want("pull-mixed10") or want("pull-proxy20"):
            b.push_all(mixed + tiny[:20])
            # Remove the local images too, so that every pull really downloads.
            b.rmi([f"{b.registry}/{i}" for i in mixed + tiny[:20]] + mixed + tiny[:20])
        if want("pull-mixed10"):
            b.pull_scenario("pull-mixed10", b.registry, mixed, 1.35)
        if want("pull-proxy20"):
            port = int(b.registry.rsplit(":", 1)[1])
            proxy = DelayProxy(port, 0.050)
            try:
                b.pull_scenario("pull-proxy20 (50 ms RTT)", f"127.0.0.1:{proxy.port}", tiny[:20], 4.0, workers=(1, 2, 4, 8),
                                ceiling=True)
            finally:
                proxy.stop()
        registry_names = ["registry-save-mixed10", "registry-save-tiny50", "registry-save-proxy20",
                          "registry-rerun-mixed10", "registry-rss-large"]
        if any(want(n) for n in registry_names):
            b.push_all(mixed + tiny)
            if want("registry-save-mixed10"):
                b.registry_scenario("registry-save-mixed10", b.registry, mixed, 4.0, floor=1.6, through_docker=True,
                                    crane_target=1.3)
            if want("registry-save-tiny50"):
                b.registry_scenario("registry-save-tiny50", b.registry, tiny, 10.0, workers=(4, 8), crane_target=2.0)
            if want("registry-save-proxy20"):
                port = int(b.registry.rsplit(":", 1)[1])
                proxy = DelayProxy(port, 0.050)
                try:
                    b.registry_scenario("registry-save-proxy20 (50 ms RTT)", f"127.0.0.1:{proxy.port}", tiny[:20], 4.0,
                                        workers=(4, 8))
                finally:
                    proxy.stop()
            if want("registry-rerun-mixed10"):
                b.registry_rerun_scenario("registry-rerun-mixed10", mixed, 0.3)
            if want("registry-rss-large"):
                b.registry_rss_scenario("registry-rss-large", "hpn-bench/large:1", 20)
        push_names = ["push-archives-mixed10", "copy-mixed10", "copy-proxy20", "push-rerun-mixed10",
                      "copy-signed-mixed10"]
        if any(want(n) for n in push_names):
            if not any(want(n) for n in registry_names):
                b.push_all(mixed + tiny[:20])
            scratch = ScratchRegistry(b.work)
            try:
                if want("push-archives-mixed10"):
                    b.push_archives_scenario("push-archives-mixed10", scratch, mixed, 2.0)
                if want("copy-mixed10"):
                    b.copy_scenario("copy-mixed10", scratch, b.registry, mixed, 3.0, floor=True, crane_target=1.2)
                if want("copy-proxy20"):
                    port = int(b.registry.rsplit(":", 1)[1])
                    proxy = DelayProxy(port, 0.050)
                    try:
                        b.copy_scenario("copy-proxy20 (50 ms RTT)", scratch, f"127.0.0.1:{proxy.port}", tiny[:20], 4.0,
                                        workers=(4, 8))
                    finally:
                        proxy.stop()
                if want("push-rerun-mixed10"):
                    b.push_rerun_scenario("push-rerun-mixed10", scratch, mixed, 0.3)
                if want("copy-signed-mixed10"):
                    b.copy_signed_scenario("copy-signed-mixed10", scratch, mixed, 1.3)
            finally:
                scratch.stop()
        if want("sync-unchanged200") or want("sync-new20of200"):
            if not any(want(n) for n in registry_names + push_names):
                b.push_all(tiny)
            b.sync_scenarios(tiny, 3.0, 2.0)
        if want("save-gzip-real"):
            b.save_gzip_scenario("save-gzip-real", b.real_fixtures(), 4.0)
        if want("load-gzip-real"):
            b.load_gzip_scenario("load-gzip-real", b.real_fixtures())
        if want("push-real"):
            real = b.real_fixtures()
            scratch = ScratchRegistry(b.work)
            try:
                b.push_real_scenarios(scratch, real, 4.0, 1.5)
            finally:
                scratch.stop()
        if want("docker-podman-mixed10") and os.environ.get("HPN_TEST_PODMAN_HOST"):
            b.docker_podman_scenario("docker-podman-mixed10", mixed, 1.0)
        if want("oci-write-mixed10"):
            if not any(want(n) for n in registry_names + push_names):
                b.push_all(mixed)
            b.oci_write_scenario("oci-write-mixed10", mixed, 1.0)
        for which, prefix in (("containerd16", "containerd"), ("containerd2", "containerd2")):
            if not os.environ.get(CONTAINERDS[which][0]):
                continue
            if want(f"{prefix}-load-mixed10"):
                b.containerd_load_scenario(f"{prefix}-load-mixed10", which, mixed, 3.0, 1.5)
            if want(f"{prefix}-pull-mixed10"):
                b.push_all(mixed)
                b.containerd_pull_scenario(f"{prefix}-pull-mixed10", which, mixed, 1.5)
        stress = [s for s in ("stress-small100", "stress-large5") if want(s)]
        if stress:
            for label, host, cli in (("docker20", docker20, "docker"),
                                     ("d28", os.environ.get("HPN_TEST_DOCKER28_HOST"), docker28_cli())):
                if not host:
                    continue
                b.use(host, cli)
                small, large = b.stress_fixtures()
                try:
                    if want("stress-small100"):
                        b.stress_scenario(f"{label}-stress-small100", small)
                    if want("stress-large5"):
                        b.stress_scenario(f"{label}-stress-large5", large)
                finally:
                    b.rmi(small + large)
        for label, var in (("d28", "HPN_TEST_DOCKER28_HOST"), ("d28c", "HPN_TEST_DOCKER28C_HOST")):
            host = os.environ.get(var)
            names = [f"{label}-save-tiny50", f"{label}-save-mixed10", f"{label}-zstd-mixed10", f"{label}-rerun-mixed10"]
            if not host or not any(want(n) for n in names):
                continue
            cli = docker28_cli()
            b.use(host, cli)
            print(f"\n# {label}: {host}, CLI loop with {cli}", flush=True)
            m28, t28 = b.fixtures()
            try:
                containerd = label == "d28c"
                if want(f"{label}-save-tiny50"):
                    b.floor_scenario(f"{label}-save-tiny50", t28, 1 / 1.15 if containerd else 10.0, containerd)
                if want(f"{label}-save-mixed10"):
                    b.floor_scenario(f"{label}-save-mixed10", m28, 1 / 1.15 if containerd else 1.35, containerd)
                if containerd and want(f"{label}-zstd-mixed10"):
                    b.zstd_cost_scenario(f"{label}-zstd-mixed10", m28, 1 / 1.1)
                if containerd and want(f"{label}-rerun-mixed10"):
                    b.rerun_scenario(f"{label}-rerun-mixed10", m28, 0.5)
            finally:
                b.rmi(m28 + t28)
        b.use(docker20)
    finally:
        b.use(docker20) if "docker20" in locals() else None
        b.rmi(mixed + tiny if "mixed" in locals() else [])
        shutil.rmtree(b.work, ignore_errors=True)
    print("\n## summary")
    for scenario, best, target, verdict in b.results:
        print(f"{scenario:<28} {best:6.2f}x (target {target}x) {verdict}")
    slower = []
    if b.versus:
        print(f"\n## against the baseline {args.baseline} (median times; target: no row more than 3% slower)")
        for scenario, row, own, base in b.versus:
            change = own / base - 1 if base > 0 else 0.0
            flag = "SLOWER" if change > 0.03 else "ok"
            if change > 0.03:
                slower.append((scenario, row))
            print(f"{scenario:<28} {row:<34} {own:7.3f} s vs {base:7.3f} s  {100 * change:+6.1f}%  {flag}")
    if args.check and (any(v != "PASS" for *_, v in b.results) or slower):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
