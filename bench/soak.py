#!/usr/bin/env python3
"""Soak: N images (default 300) through hpn's roads while the peers die under it.

Not part of CI. Needs root (it starts a dockerd of its own) and Debian's
docker-registry. Everything runs under one temporary directory, on loopback:

  - a dockerd of its own, and two docker-registry instances (source, target), each
    with an http.secret so that uploads survive their restarts;
  - N distinct images (one small layer each; every tenth also has a layer of a few
    MiB of random bytes), loaded into the dockerd and pushed to the source registry.

Then, for each road, a first run during which the peer it uses is killed (SIGKILL)
at a random moment and started again half a second later, then a rerun with
nothing killed:

  save-daemon    hpn save -f LIST -p OUT                  kills the dockerd
  save-registry  hpn save --source registry -f LIST -p OUT  kills the source registry
  push-archives  hpn push --archives OUT -r TARGET        kills the target registry
  copy           hpn copy -f LIST -r TARGET               kills the target registry

and checks that every image arrived exactly once (one archive per image, and it
verifies; one tag per image in the target, naming the right config or digest), that
no .part file is left, and that hpn's descriptors and RSS stayed bounded. It prints
a table of what it did and found, and exits 1 when a check failed.

  python3 bench/soak.py [--images 300] [--hpn build/hpn] [--kills 2] [--seed N]
"""
import argparse
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(fn, limit=60.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if fn():
                return True
        except Exception:
            pass
        time.sleep(0.1)
    return False


class Registry:
    def __init__(self, root, name):
        self.dir = os.path.join(root, name)
        os.makedirs(os.path.join(self.dir, "data"))
        self.port = free_port()
        with open(os.path.join(self.dir, "reg.yml"), "w") as f:
            f.write("version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
                    f"storage: {{filesystem: {{rootdirectory: {self.dir}/data}}, delete: {{enabled: true}}}}\n"
                    f"http: {{addr: 127.0.0.1:{self.port}, secret: hpn-soak-{name}}}\n")
        self.proc = None
        self.start()

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        log = open(os.path.join(self.dir, "reg.log"), "a")
        self.proc = subprocess.Popen(["docker-registry", "serve", os.path.join(self.dir, "reg.yml")],
                                     stdout=log, stderr=log, start_new_session=True)
        if not wait_for(lambda: urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).status == 200):
            sys.exit(f"soak: registry {self.host} did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill()

    def get(self, path, accept=None):
        req = urllib.request.Request(f"http://{self.host}{path}")
        if accept:
            req.add_header("Accept", accept)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read(), dict(r.headers)


class Dockerd:
    def __init__(self, root):
        self.dir = os.path.join(root, "dockerd")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "docker.sock")
        self.proc = None
        self.start()

    @property
    def host(self):
        return "unix://" + self.sock

    def start(self):
        log = open(os.path.join(self.dir, "dockerd.log"), "a")
        d = self.dir
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", f"{d}/root", "--exec-root", f"{d}/exec", "-H", self.host, "--pidfile",
             f"{d}/docker.pid", "--iptables=false", "--bridge=none", "--ip-masq=false", "--storage-driver", "overlay2"],
            stdout=log, stderr=log, start_new_session=True)
        ok = wait_for(lambda: subprocess.run(["curl", "-sf", "--unix-socket", self.sock, "http://d/_ping"],
                                             capture_output=True).returncode == 0, 90)
        if not ok:
            sys.exit("soak: dockerd did not start; see " + os.path.join(d, "dockerd.log"))

    def kill(self):
        """SIGKILL dockerd and the containerd it runs, as a crash of the service does
        (a restarted dockerd cannot take over an orphaned containerd)."""
        self.proc.kill()
        self.proc.wait()
        self.kill_containerd()

    def kill_containerd(self):
        pid_file = f"{self.dir}/exec/containerd/containerd.pid"
        if os.path.exists(pid_file):
            try:
                pid = int(open(pid_file).read().strip())
                os.kill(pid, signal.SIGKILL)
                wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10)
            except (OSError, ValueError):
                pass
            os.remove(pid_file)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.kill_containerd()
        time.sleep(0.2)
        mounts = [line.split()[1] for line in open("/proc/mounts") if line.split()[1].startswith(self.dir)]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)


def write_archive(path, name, index, rng):
    """A Docker archive (legacy layout) of one image NAME; returns its config digest."""
    def add(t, member, content):
        i = tarfile.TarInfo(member)
        i.size = len(content)
        i.mtime = 0
        t.addfile(i, io.BytesIO(content))

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.USTAR_FORMAT) as t:
        add(t, "soak/id.txt", f"soak image {index}\n".encode() * (index % 50 + 1))
        if index % 10 == 0:
            add(t, "soak/random.bin", rng.randbytes(4 << 20))
    layer = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    cid = hashlib.sha256(config).hexdigest()
    lid = hashlib.sha256(diff_id.encode()).hexdigest()
    manifest = json.dumps([{"Config": cid + ".json", "RepoTags": [name], "Layers": [lid + "/layer.tar"]}]).encode()
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
        add(t, cid + ".json", config)
        add(t, lid + "/layer.tar", layer)
        add(t, "manifest.json", manifest)
    return "sha256:" + cid


class Watch:
    """Samples a process's RSS and open descriptors until it ends."""

    def __init__(self, pid):
        self.pid = pid
        self.rss_kib = 0
        self.fds = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.rss_kib = max(self.rss_kib, int(line.split()[1]))
                self.fds = max(self.fds, len(os.listdir(f"/proc/{self.pid}/fd")))
            except (OSError, ValueError):
                return
            time.sleep(0.05)


class Soak:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.root = tempfile.mkdtemp(prefix="hpn-soak.")
        self.hpn = os.path.abspath(a.hpn)
        self.rows = []
        self.failed = []
        self.completed = False

    def hpn_cmd(self, args, cwd, kill=None):
        """Runs hpn ARGS in CWD; with `kill` (a peer), kills it at a random moment and
        starts it again. Returns (exit code, stdout, stderr, killed at s, watch)."""
        env = dict(os.environ, DOCKER_HOST=self.dockerd.host, NO_COLOR="1")
        out = open(os.path.join(cwd, "hpn.out"), "w")
        err = open(os.path.join(cwd, "hpn.err"), "w")
        start = time.perf_counter()
        p = subprocess.Popen([self.hpn] + args, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        w = Watch(p.pid)
        killed = []
        if kill is not None:
            for _ in range(self.a.kills):
                time.sleep(self.rng.uniform(0.2, 1.5))
                if p.poll() is not None:
                    break
                killed.append(round(time.perf_counter() - start, 2))
                kill.kill()
                time.sleep(0.5)
                kill.start()
        p.wait()
        w.thread.join(1)
        out.close()
        err.close()
        return (p.returncode, open(os.path.join(cwd, "hpn.out")).read(), open(os.path.join(cwd, "hpn.err")).read(),
                killed, w, time.perf_counter() - start)

    def setup(self):
        print(f"# soak: {self.a.images} images under {self.root}", flush=True)
        self.dockerd = Dockerd(self.root)
        self.source = Registry(self.root, "source")
        self.target = Registry(self.root, "target")
        seed = os.path.join(self.root, "seed")
        os.makedirs(seed)
        self.images = []   # (name, config digest)
        for i in range(self.a.images):
            name = f"soak/img{i:04d}:1"
            self.images.append((name, write_archive(os.path.join(seed, f"img{i:04d}.tar"), name, i, self.rng)))
        work = os.path.join(self.root, "work")
        os.makedirs(work)
        # Retries that outlast a restart of the daemon (about 2 s) or a registry.
        with open(os.path.join(work, "config.yaml"), "w") as f:
            f.write("runtime:\n  retry: {max_attempts: 6, delay: 500ms, max_delay: 4s}\n")
        for args in (["load", "-p", seed], ["push", "--archives", seed, "-r", self.source.host, "-p", "soak"]):
            rc, out, err, _, _, _ = self.hpn_cmd(args, work)
            if rc != 0:
                sys.exit(f"soak: setup failed: hpn {' '.join(args)}\n{out[-2000:]}{err[-2000:]}")
        with open(os.path.join(work, "list"), "w") as f:
            f.write("".join(name + "\n" for name, _ in self.images))
        with open(os.path.join(work, "list-src"), "w") as f:
            f.write("".join(f"{self.source.host}/{name}\n" for name, _ in self.images))
        self.work = work

    def parts_left(self, *dirs):
        left = []
        for d in dirs:
            for base, _, files in os.walk(d):
                left += [os.path.join(base, f) for f in files if f.endswith(".part")]
        return left

    def check_archives(self, directory):
        rc, out, err, _, _, _ = self.hpn_cmd(["ls", "-p", directory, "--recursive", "--output", "json"], self.work)
        try:
            doc = json.loads(out)
        except ValueError:
            return f"ls -p gave no JSON (rc {rc}): {err[-300:]}"
        archives = doc.get("archives", [])
        bad = [a["path"] for a in archives if a.get("checksum") != "ok" or a.get("error")]
        tags = [t for a in archives for img in a.get("images", []) for t in img.get("tags", [])]
        problems = []
        if len(archives) != len(self.images):
            problems.append(f"{len(archives)} archives for {len(self.images)} images")
        if bad:
            problems.append(f"{len(bad)} archives do not verify (first: {bad[0]})")
        missing = [n for n, _ in self.images if not any(t.endswith(n) for t in tags)]
        if missing:
            problems.append(f"{len(missing)} images missing (first: {missing[0]})")
        return "; ".join(problems)

    def check_target(self, project, by):
        problems = []
        accept = "application/vnd.docker.distribution.manifest.v2+json"
        missing = wrong = 0
        for name, config in self.images:
            repo = f"{project}/{name.split('/', 1)[1].split(':')[0]}"
            try:
                body, headers = self.target.get(f"/v2/{repo}/manifests/1", accept)
            except Exception:
                missing += 1
                continue
            m = json.loads(body)
            if by == "config" and m.get("config", {}).get("digest") != config:
                wrong += 1
            if by == "digest":
                src, _ = self.source.get(f"/v2/soak/{name.split('/', 1)[1].split(':')[0]}/manifests/1", accept)
                if hashlib.sha256(src).hexdigest() != hashlib.sha256(body).hexdigest():
                    wrong += 1
            try:
                tags = json.loads(self.target.get(f"/v2/{repo}/tags/list")[0]).get("tags", [])
            except Exception:
                tags = []
            if tags != ["1"]:
                wrong += 1
        if missing:
            problems.append(f"{missing} images missing")
        if wrong:
            problems.append(f"{wrong} images wrong")
        return "; ".join(problems)

    def road(self, name, args, kill, check, out_dirs=()):
        first = self.hpn_cmd(args, self.work, kill)
        rerun = self.hpn_cmd(args, self.work)
        problems = check()
        left = self.parts_left(*out_dirs)
        if left:
            problems = "; ".join(p for p in [problems, f"{len(left)} .part files left (first: {left[0]})"] if p)
        if rerun[0] != 0:
            problems = "; ".join(p for p in [problems, f"the rerun exited {rerun[0]}"] if p)
        rss = max(first[4].rss_kib, rerun[4].rss_kib) / 1024
        fds = max(first[4].fds, rerun[4].fds)
        if rss > self.a.max_rss_mib:
            problems = "; ".join(p for p in [problems, f"RSS {rss:.0f} MiB"] if p)
        if fds > self.a.max_fds:
            problems = "; ".join(p for p in [problems, f"{fds} descriptors"] if p)
        summary = next((line for line in first[1].splitlines() if line.startswith("Summary:")), "")
        # The first run's failures by kind ("✗ IMAGE: KIND: ..."), and one message of each.
        kinds = {}
        for line in first[1].splitlines():
            if line.startswith("[") and "\u2717 " in line:
                rest = line.split("\u2717 ", 1)[1]
                parts = rest.split(": ", 2)
                if len(parts) >= 2:
                    kinds.setdefault(parts[1], parts[2][:160] if len(parts) > 2 else "")
        for kind, message in kinds.items():
            print(f"#   {name} first run: {kind}: {message}", flush=True)
        self.rows.append((name, ",".join(map(str, first[3])) or "-", first[0], f"{first[5]:.1f}",
                          summary[9:summary.find(" of ")] + (f" ({', '.join(kinds)})" if kinds else ""),
                          rerun[0], f"{rerun[5]:.1f}", len(left), f"{rss:.1f}", fds, problems or "ok"))
        if problems:
            self.failed.append(name)
            (open(os.path.join(self.root, f"{name}.first.out"), "w")).write(first[1] + first[2])
            (open(os.path.join(self.root, f"{name}.rerun.out"), "w")).write(rerun[1] + rerun[2])
        print(f"# {name}: {problems or 'ok'}", flush=True)

    def run(self):
        self.setup()
        w = self.work
        self.road("save-daemon", ["save", "-f", "list", "-p", "out-daemon", "-j", "4"], self.dockerd,
                  lambda: self.check_archives(os.path.join(w, "out-daemon")), [os.path.join(w, "out-daemon")])
        self.road("save-registry", ["save", "--source", "registry", "-f", "list-src", "-p", "out-registry", "-j", "4"],
                  self.source, lambda: self.check_archives(os.path.join(w, "out-registry")),
                  [os.path.join(w, "out-registry")])
        self.road("push-archives", ["push", "--archives", "out-daemon", "-r", self.target.host, "-p", "pa", "-j", "4"],
                  self.target, lambda: self.check_target("pa", "config"))
        self.road("copy", ["copy", "-f", "list-src", "-r", self.target.host, "-p", "cp", "-j", "4"], self.target,
                  lambda: self.check_target("cp", "digest"))
        self.completed = True

    def report(self):
        head = ("road", "killed at s", "rc", "s", "first run (failure kinds)", "rerun rc", "rerun s", ".part", "max RSS MiB",
                "max fds", "checks")
        print()
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in self.rows:
            print("| " + " | ".join(str(c) for c in r) + " |")

    def close(self):
        for peer in ("target", "source"):
            if hasattr(self, peer):
                getattr(self, peer).stop()
        if hasattr(self, "dockerd"):
            self.dockerd.stop()
        if not self.a.keep and not self.failed and self.completed:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            print(f"# kept {self.root}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--hpn", default=os.path.join(HERE, "..", "build", "hpn"))
    ap.add_argument("--kills", type=int, default=2, help="kills of the peer during each first run")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--max-rss-mib", type=float, default=64)
    ap.add_argument("--max-fds", type=int, default=64)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: needs root (it starts a dockerd of its own)")
    s = Soak(a)
    try:
        s.run()
    finally:
        s.close()
    s.report()
    print(f"# seed {a.seed}; {len(s.rows) - len(s.failed)} of {len(s.rows)} roads clean")
    sys.exit(1 if s.failed else 0)


if __name__ == "__main__":
    main()
