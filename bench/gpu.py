#!/usr/bin/env python3
"""What `--gpus all` costs a container start: `berth run --rm --gpus all IMAGE true` against the
same run without GPUs, and against the same GPUs through CDI (`--device nvidia.com/gpu=all` with
the spec `berth gpu cdi generate` writes), side by side in one run (interleaved). The image is a
glibc one with its own ldconfig, so the loader-cache refresh (the container's ldconfig, run
between create and start) is in the figure, as it is for CUDA images.

On a host with the NVIDIA driver (/proc/driver/nvidia/version) the real driver is used;
elsewhere a fake driver tree made here (stub libcuda/libnvidia-ml built with cc, an ld.so.cache
from `ldconfig -r`, device nodes made with mknod, as tests/gpu do) is named in a settings file.
Where `nvidia-container-cli` is installed, its `configure` cost cannot be measured without its
runtime hook; `nvidia-container-cli info` is timed as the floor of what its prestart hook does.
Run as root: bench/gpu.py [--runs N]. BERTH selects the binary (default build/berth).
"""
import argparse
import json
import os
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
DRIVER = "535.104.05"
STUB = """int cuInit(unsigned f) { (void)f; return 0; }
int cuDriverGetVersion(int* v) { *v = 12020; return 0; }
int nvmlInit_v2(void) { return 0; }
"""


def sh(cmd, **kw):
    subprocess.run(cmd, shell=True, check=True, **kw)


def fake_driver(root):
    """The tree tests/gpu use: /proc texts, stub libraries, ld.so.cache, nvidia-smi, /dev nodes."""
    lib = f"{root}/usr/lib/x86_64-linux-gnu"
    proc = f"{root}/proc/driver/nvidia"
    for d in (lib, f"{root}/etc", f"{root}/usr/bin", f"{proc}/gpus/0000:1b:00.0", f"{root}/dev"):
        os.makedirs(d, exist_ok=True)
    with open(f"{proc}/version", "w") as f:
        f.write(f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {DRIVER}  Sat Aug 19 01:15:15 UTC 2023\n")
    with open(f"{proc}/gpus/0000:1b:00.0/information", "w") as f:
        f.write("Model: \t\t NVIDIA H200\nGPU UUID: \t GPU-11111111-2222-3333-4444-555555555555\n"
                "Bus Location: \t 0000:1b:00.0\nDevice Minor: \t 0\n")
    with open(f"{root}/etc/ld.so.conf", "w") as f:
        f.write("/usr/lib/x86_64-linux-gnu\n")
    with open(f"{root}/stub.c", "w") as f:
        f.write(STUB)
    for name, soname in (("libcuda", "libcuda.so.1"), ("libnvidia-ml", "libnvidia-ml.so.1")):
        sh(f"cc -shared -fPIC -o {lib}/{name}.so.{DRIVER} -Wl,-soname,{soname} {root}/stub.c")
    sh(f"ldconfig -r {root}")
    with open(f"{root}/usr/bin/nvidia-smi", "w") as f:
        f.write("#!/bin/sh\necho fake nvidia-smi\n")
    os.chmod(f"{root}/usr/bin/nvidia-smi", 0o755)
    for node, major, minor in (("nvidiactl", 195, 255), ("nvidia0", 195, 0), ("nvidia-uvm", 509, 0),
                               ("nvidia-uvm-tools", 509, 1)):
        sh(f"mknod -m 666 {root}/dev/{node} c {major} {minor}")


def glibc_image(work):
    """busybox, the host's libc, loader and static ldconfig; Debian's ld.so.conf."""
    r = f"{work}/rootfs"
    for d in ("bin", "etc/ld.so.conf.d", "lib/x86_64-linux-gnu", "lib64", "usr/lib/x86_64-linux-gnu",
              "sbin", "tmp", "proc", "sys", "dev"):
        os.makedirs(f"{r}/{d}", exist_ok=True)
    shutil.copy("/bin/busybox", f"{r}/bin/busybox")
    for a in ("sh", "true", "ls"):
        os.symlink("busybox", f"{r}/bin/{a}")
    shutil.copy("/lib/x86_64-linux-gnu/libc.so.6", f"{r}/lib/x86_64-linux-gnu/")
    shutil.copy(os.path.realpath("/lib64/ld-linux-x86-64.so.2"), f"{r}/lib64/ld-linux-x86-64.so.2")
    shutil.copy("/sbin/ldconfig", f"{r}/sbin/ldconfig")
    with open(f"{r}/etc/ld.so.conf", "w") as f:
        f.write("include /etc/ld.so.conf.d/*.conf\n")
    sh(f"tar -C {r} -cf {work}/image.tar .")
    return f"{work}/image.tar"


def timed(cmd, env):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, start_new_session=True)
    if r.returncode != 0:
        sys.exit(f"bench/gpu.py: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/gpu.py: run as root")
    work = tempfile.mkdtemp(prefix="berth-bench-gpu-")
    try:
        env = dict(os.environ)
        real = os.path.exists("/proc/driver/nvidia/version")
        settings = {"cdi-spec-dirs": [f"{work}/cdi"]}
        if not real:
            fake_driver(f"{work}/driver")
            settings.update({"gpu-driver-root": f"{work}/driver", "gpu-dev-root": f"{work}/driver"})
        with open(f"{work}/config.json", "w") as f:
            json.dump(settings, f)
        env["BERTH_CONFIG"] = f"{work}/config.json"
        berth = [BERTH, "--root", f"{work}/root"]
        subprocess.run(berth + ["import", glibc_image(work), "gpu-bench"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        os.makedirs(f"{work}/cdi")
        subprocess.run(berth + ["gpu", "cdi", "generate", "--output", f"{work}/cdi/nvidia.yaml"], env=env,
                       check=True)
        run = berth + ["run", "--rm", "--network", "none"]
        cases = {
            "no GPU": run + ["gpu-bench", "true"],
            "--gpus all": run + ["--gpus", "all", "gpu-bench", "true"],
            "CDI gpu=all": run + ["--device", "nvidia.com/gpu=all", "gpu-bench", "true"],
        }
        if shutil.which("nvidia-container-cli") and real:
            cases["nvidia-container-cli info"] = ["nvidia-container-cli", "info"]
        for c in cases.values():  # warm caches
            timed(c, env)
        times = {k: [] for k in cases}
        for _ in range(args.runs):
            for k, c in cases.items():
                times[k].append(timed(c, env))
        print(f"driver: {'the host' if real else 'fake tree'}; {args.runs} runs each, interleaved")
        print(f"{'case':28} {'median (ms)':>12} {'min (ms)':>10}")
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        for k, v in times.items():
            print(f"{k:28} {med[k]:12.1f} {min(v) * 1000:10.1f}")
        print(f"--gpus all adds {med['--gpus all'] - med['no GPU']:.1f} ms "
              f"(ratio {med['--gpus all'] / med['no GPU']:.2f}); "
              f"CDI adds {med['CDI gpu=all'] - med['no GPU']:.1f} ms")
    finally:
        subprocess.run([BERTH, "--root", f"{work}/root", "system", "prune", "-af"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
