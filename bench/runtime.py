#!/usr/bin/env python3
"""berth's runtime vs runc, side by side in one run (absolute times drift on shared machines).

Measures, on the same busybox bundle:
  1. create -> start -> wait -> delete of /bin/true: the median of N single runs (`run`);
  2. 100 such containers in sequence (crun's benchmark);
  3. peak RSS of the runtime process (max over the runs, from getrusage of the children).
Prints the numbers and berth/runc ratios. Run as root: sudo bench/runtime.py [--runs N]
With BERTH_BASE=/path/to/other/berth (an earlier commit's build), that binary runs side by side
as "base", and the berth/base ratios are printed too.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from berth_bin import berth_binary  # noqa: E402

BERTH = berth_binary()


def make_bundle(root):
    rootfs = os.path.join(root, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    os.symlink("busybox", os.path.join(rootfs, "bin", "true"))
    os.symlink("busybox", os.path.join(rootfs, "bin", "sh"))
    subprocess.run([BERTH, "runtime", "spec", "--bundle", root], check=True)
    path = os.path.join(root, "config.json")
    c = json.load(open(path))
    c["process"]["terminal"] = False
    c["process"]["args"] = ["/bin/true"]
    json.dump(c, open(path, "w"))


def one(cmd, state, bundle, cid):
    t0 = time.perf_counter()
    subprocess.run(cmd + ["--root", state, "run", "--bundle", bundle, cid], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def peak_rss_kib(cmd, state, bundle):
    # GNU time's %M is the child's own peak (its rusage from wait4). Measuring from Python would
    # count the RSS of Python's forked child before it execs, which dwarfs a runtime's.
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd + ["--root", state, "run", "--bundle", bundle, "rss"],
                         check=True, capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--sequence", type=int, default=100)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/runtime.py: run as root")
    runc = shutil.which("runc")
    if not runc:
        sys.exit("bench/runtime.py: runc is not installed (apt-get install runc)")
    work = tempfile.mkdtemp(prefix="berth-bench-")
    try:
        bundle = os.path.join(work, "bundle")
        os.makedirs(bundle)
        make_bundle(bundle)
        tools = {"berth": [BERTH, "runtime"], "runc": [runc]}
        if os.environ.get("BERTH_BASE"):
            tools["base"] = [os.environ["BERTH_BASE"], "runtime"]
        results = {}
        for name, cmd in tools.items():
            state = os.path.join(work, "state-" + name)
            one(cmd, state, bundle, "warmup")
        # Interleave the tools so drift affects both alike.
        singles = {n: [] for n in tools}
        for i in range(args.runs):
            for name, cmd in tools.items():
                singles[name].append(one(cmd, os.path.join(work, "state-" + name), bundle, f"s{i}"))
        seq = {}
        for name, cmd in tools.items():
            state = os.path.join(work, "state-" + name)
            t0 = time.perf_counter()
            for i in range(args.sequence):
                one(cmd, state, bundle, f"q{i}")
            seq[name] = time.perf_counter() - t0
        rss = {n: peak_rss_kib(c, os.path.join(work, "state-" + n), bundle) for n, c in tools.items()}
        for n in tools:
            results[n] = (statistics.median(singles[n]), seq[n], rss[n])
        print(f"{'runtime':8} {'median run (ms)':>16} {str(args.sequence) + ' in sequence (s)':>20} {'peak RSS (MiB)':>15}")
        for n, (med, s, r) in results.items():
            print(f"{n:8} {med * 1000:16.1f} {s:20.2f} {r / 1024:15.1f}")
        b, r = results["berth"], results["runc"]
        print(f"ratio berth/runc: median {b[0] / r[0]:.2f}, sequence {b[1] / r[1]:.2f}, peak RSS {b[2] / r[2]:.2f}")
        if "base" in results:
            a = results["base"]
            print(f"ratio berth/base: median {b[0] / a[0]:.2f}, sequence {b[1] / a[1]:.2f}, peak RSS {b[2] / a[2]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
