#!/usr/bin/env python3
"""`berth run --rm IMAGE true` vs `podman run --rm --runtime runc IMAGE true`, side by side in one
run (absolute times drift on shared machines): the same busybox image, imported from the same
root filesystem tarball into each tool's own temporary store. Measures the median wall time of
N runs each (interleaved), with the default network, with `--network none`, and with a published
port (`-p`). Run as root: bench/run.py [--runs N]. BERTH selects the binary (default
build/berth; use a release build for numbers you quote).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from berth_bin import berth_binary  # noqa: E402

BERTH = berth_binary()


def rootfs_tar(path):
    with tarfile.open(path, "w") as t:
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)
        t.add("/bin/busybox", "bin/busybox")
        for name in ("true", "sh"):
            info = tarfile.TarInfo("bin/" + name)
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(info)


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"bench/run.py: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return time.perf_counter() - t0


def memory_kib(pid):
    """VmRSS and Pss of a process, in KiB."""
    rss = pss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def pid_of(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    if not out:
        sys.exit(f"bench/run.py: no process matches {pattern!r}")
    return int(out[0])


def monitor_memory(berth, podman, image):
    """The per-container process that stays with a detached container: berth's monitor vs
    podman's conmon, a second after start, idle container (sh waiting on stdin)."""
    cmd = ["-di", "--network", "none", image, "sh", "-c", "read x"]
    bid = subprocess.run(berth + ["run"] + cmd, check=True, capture_output=True, text=True).stdout.strip()
    pid = subprocess.run(podman + ["run", "--runtime", "runc"] + cmd, check=True, capture_output=True,
                         text=True).stdout.strip()
    try:
        time.sleep(1)
        b = memory_kib(pid_of(f"monitor {bid}"))
        c = memory_kib(pid_of(f"conmon .*{pid}"))
        print(f"\n{'per-container process':22} {'RSS (MiB)':>10} {'PSS (MiB)':>10}")
        print(f"{'berth monitor':22} {b[0] / 1024:10.2f} {b[1] / 1024:10.2f}")
        print(f"{'conmon':22} {c[0] / 1024:10.2f} {c[1] / 1024:10.2f}")
    finally:
        subprocess.run(berth + ["rm", "-f", bid], capture_output=True)
        subprocess.run(podman + ["rm", "-f", "-t", "0", pid], capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/run.py: run as root")
    if not shutil.which("podman"):
        sys.exit("bench/run.py: podman is not installed (scripts/deps.sh installs it)")
    work = tempfile.mkdtemp(prefix="berth-bench-run-")
    try:
        tar = os.path.join(work, "rootfs.tar")
        rootfs_tar(tar)
        conf = os.path.join(work, "containers.conf")
        with open(conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n')
        os.environ["CONTAINERS_CONF"] = conf
        berth = [BERTH, "--root", os.path.join(work, "berth")]
        # podman's default storage driver (overlay), as users run it; both stores on the same disk.
        podman = ["podman", "--root", os.path.join(work, "podman"), "--runroot", "/run/bench-podman-%d" % os.getpid(),
                  "--storage-driver", "overlay"]
        image = "localhost/bench/busybox:latest"
        subprocess.run(berth + ["import", tar, image], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(podman + ["import", "--quiet", tar, image], check=True, stdout=subprocess.DEVNULL)
        modes = {
            "default network": [],
            "--network none": ["--network", "none"],
            "-p 127.0.0.1:P:80": ["-p", "127.0.0.1:{port}:80"],
        }
        print(f"{'mode':20} {'berth (ms)':>11} {'podman (ms)':>12} {'berth/podman':>13}")
        for mode, flags in modes.items():
            times = {"berth": [], "podman": []}
            for i in range(args.runs + 1):
                for name, base in (("berth", berth), ("podman", podman)):
                    port = str(20000 + (i * 2) + (name == "podman"))
                    f = [x.format(port=port) for x in flags]
                    extra = ["--runtime", "runc"] if name == "podman" else []
                    t = timed(base + ["run", "--rm"] + extra + f + [image, "true"])
                    if i > 0:  # the first run of each warms caches
                        times[name].append(t)
            b, p = statistics.median(times["berth"]), statistics.median(times["podman"])
            print(f"{mode:20} {b * 1000:11.1f} {p * 1000:12.1f} {b / p:13.2f}")
        monitor_memory(berth, podman, image)
    finally:
        # An interrupted run can leave containers (and their rootfs mounts) behind: remove them
        # through berth before the directory goes.
        broot = [BERTH, "--root", os.path.join(work, "berth")]
        left = subprocess.run(broot + ["ps", "-aq"], capture_output=True, text=True).stdout.split()
        if left:
            subprocess.run(broot + ["rm", "-f", "-v"] + left, capture_output=True)
        subprocess.run(["podman", "--root", os.path.join(work, "podman"), "--runroot", "/run/bench-podman-%d" % os.getpid(),
                        "--storage-driver", "overlay", "system", "reset", "--force"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree("/run/bench-podman-%d" % os.getpid(), ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
