#!/usr/bin/env python3
"""Rootless `run --rm IMAGE true`: berth vs podman, both as the same unprivileged user, side by
side in one run (absolute times drift on shared machines). The user is scripts/test.sh's
berth-rl-test, which has a range in /etc/subuid (podman needs one); berth is also measured as
`nobody`, which has none (berth maps the user's own id alone then). The same busybox rootfs
tarball is imported into each tool's own temporary store. Modes: --network none, the default
network (berth: pasta; podman 4.3: slirp4netns), and a published port. Run as root (it switches
to the users): bench/rootless.py [--runs N]. BERTH selects the binary.
"""
import argparse
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from berth_bin import berth_binary  # noqa: E402
from run import rootfs_tar, timed  # noqa: E402

BERTH = berth_binary()
RANGE_USER = "berth-rl-test"


def as_user(uid, home, runtime_dir, cmd):
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "env", "-i", f"HOME={home}",
            f"XDG_RUNTIME_DIR={runtime_dir}", "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
            f"CONTAINERS_CONF={home}/containers.conf"] + cmd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/rootless.py: run as root (it runs the tools as unprivileged users)")
    try:
        ranged = pwd.getpwnam(RANGE_USER).pw_uid
    except KeyError:
        sys.exit(f"bench/rootless.py: no user {RANGE_USER} (scripts/test.sh makes it)")
    if not shutil.which("podman"):
        sys.exit("bench/rootless.py: podman is not installed (scripts/deps.sh installs it)")
    # pasta (and podman's slirp4netns) need /dev/net/tun, 0666 where udev made it.
    tun_mode = os.stat("/dev/net/tun").st_mode & 0o7777
    os.chmod("/dev/net/tun", 0o666)
    work = tempfile.mkdtemp(prefix="berth-bench-rootless-")
    os.chmod(work, 0o755)
    users = {"ranged": ranged, "nobody": 65534}
    env = {}
    try:
        tar = os.path.join(work, "rootfs.tar")
        rootfs_tar(tar)
        os.chmod(tar, 0o644)
        for name, uid in users.items():
            home = os.path.join(work, name)
            rdir = os.path.join(work, name + "-run")
            for d in (home, rdir):
                os.makedirs(d, mode=0o700)
                os.chown(d, uid, uid)
            with open(os.path.join(home, "containers.conf"), "w") as f:
                f.write('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n')
            env[name] = (uid, home, rdir)
        image = "localhost/bench/busybox:latest"

        def berth(name):
            uid, home, rdir = env[name]
            return as_user(uid, home, rdir, [BERTH])

        uid, home, rdir = env["ranged"]
        # podman refuses a run root longer than 50 characters.
        podman_run = tempfile.mkdtemp(prefix="bpr-")
        os.chown(podman_run, uid, uid)
        podman = as_user(uid, home, rdir, ["podman", "--root", os.path.join(home, "podman"), "--runroot",
                                           podman_run, "--storage-driver", "overlay",
                                           "--cgroup-manager", "cgroupfs"])
        for name in users:
            subprocess.run(berth(name) + ["import", tar, image], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(podman + ["import", "--quiet", tar, image], check=True, stdout=subprocess.DEVNULL)
        modes = {
            "--network none": ["--network", "none"],
            "default network": [],
            "-p 127.0.0.1:P:80": ["-p", "127.0.0.1:{port}:80"],
        }
        tools = {"berth (range)": berth("ranged"), "berth (own id)": berth("nobody"), "podman (range)": podman}
        print(f"{'mode':20} " + " ".join(f"{t:>15}" for t in tools) + f" {'berth/podman':>13}")
        for mode, flags in modes.items():
            times = {t: [] for t in tools}
            for i in range(args.runs + 1):
                for k, (tool, base) in enumerate(tools.items()):
                    port = str(21000 + i * 3 + k)
                    f = [x.format(port=port) for x in flags]
                    extra = ["--runtime", "runc"] if tool.startswith("podman") else []
                    t = timed(base + ["run", "--rm"] + extra + f + [image, "true"])
                    if i > 0:  # the first run of each warms caches
                        times[tool].append(t)
            med = {t: statistics.median(v) for t, v in times.items()}
            ratio = med["berth (range)"] / med["podman (range)"]
            print(f"{mode:20} " + " ".join(f"{med[t] * 1000:12.1f} ms" for t in tools) + f" {ratio:13.2f}")
    finally:
        for name in env:
            left = subprocess.run(berth(name) + ["ps", "-aq"], capture_output=True, text=True).stdout.split()
            if left:
                subprocess.run(berth(name) + ["rm", "-f", "-v"] + left, capture_output=True)
        if "ranged" in env:
            subprocess.run(podman + ["system", "reset", "--force"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        os.chmod("/dev/net/tun", tun_mode)
        if "podman_run" in locals():
            shutil.rmtree(podman_run, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
