#!/usr/bin/env python3
"""Rootless `run --rm IMAGE true`: berth vs podman, both as the same unprivileged user, side by
side in one run (absolute times drift on shared machines). The user is scripts/test.sh's
berth-rl-test, which has a range in /etc/subuid (podman needs one); berth is also measured as
`nobody`, which has none (berth maps the user's own id alone then). The same busybox rootfs
tarball is imported into each tool's own temporary store. Modes: --network none, the default
network (berth: pasta; podman 4.3: slirp4netns), and a published port. Run as root (it switches
to the users): bench/rootless.py [--runs N] [--pull-runs N]. BERTH selects the binary.

Then, when tests/images/jupyter.sh has built the Jupyter image (its OCI archive in
/var/cache/berth-test), a cold pull of it from a local docker-registry (skopeo pushes it) into an
empty store, berth vs podman, as the range user: the median of --pull-runs, on disk.
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
from pull import start_registry  # noqa: E402
from run import rootfs_tar, timed  # noqa: E402

JUPYTER_ARCHIVE = "/var/cache/berth-test/jupyter-oci.tar"

BERTH = berth_binary()
RANGE_USER = "berth-rl-test"


def as_user(uid, home, runtime_dir, cmd):
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "env", "-i", f"HOME={home}",
            f"XDG_RUNTIME_DIR={runtime_dir}", "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
            f"CONTAINERS_CONF={home}/containers.conf"] + cmd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--pull-runs", type=int, default=3)
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
        if args.pull_runs > 0:  # --pull-runs 0: the runs alone
            pull_bench(work, env["ranged"], podman, args.pull_runs)
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


def pull_bench(work, user, podman, runs):
    if not os.path.exists(JUPYTER_ARCHIVE):
        print(f"\npull: {JUPYTER_ARCHIVE} is missing (tests/images/jupyter.sh builds it): not measured")
        return
    uid, home, rdir = user
    storage = os.path.join(work, "registry")
    os.makedirs(storage)
    proc, reg = start_registry(work, storage)
    try:
        ref = f"{reg}/bench/jupyter:latest"
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci-archive:{JUPYTER_ARCHIVE}",
                        f"docker://{ref}"], check=True)
        # The stores on a tmpfs (as bench/pull.py): the engines' work, not this disk's.
        pulls = os.path.join(work, "pulls")
        os.makedirs(pulls)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=6g,mode=0700,uid={uid},gid={uid}", "tmpfs", pulls],
                       check=True)
        # podman's pause process keeps the mount namespace it started in: a new one sees the tmpfs.
        subprocess.run(podman + ["system", "migrate"], capture_output=True)
        times = {"berth": [], "podman": []}
        for i in range(runs):
            for tool in times:
                d = os.path.join(pulls, f"{tool}-{i}")
                if tool == "berth":
                    cmd = as_user(uid, home, rdir, [BERTH, "--root", d, "pull", "-q", ref])
                else:
                    cmd = podman[:podman.index("--root") + 1] + [d] + podman[podman.index("--root") + 2:] + [
                        "pull", "-q", "--tls-verify=false", ref]
                times[tool].append(timed(cmd))
                if tool == "berth":
                    subprocess.run(as_user(uid, home, rdir, [BERTH, "--root", d, "rmi", "-f", ref]),
                                   capture_output=True)
                else:
                    subprocess.run(cmd[:cmd.index("pull")] + ["rmi", "-f", ref], capture_output=True)
                shutil.rmtree(d, ignore_errors=True)
        b, p = statistics.median(times["berth"]), statistics.median(times["podman"])
        print(f"\ncold pull of the Jupyter image ({os.path.getsize(JUPYTER_ARCHIVE) >> 20} MiB archive) into a tmpfs, "
              f"as {RANGE_USER}, median of {runs}:")
        print(f"  berth {b:.2f} s   podman {p:.2f} s   berth/podman {b / p:.2f}")
    finally:
        proc.kill()
        proc.wait()
        subprocess.run(["umount", "-l", os.path.join(work, "pulls")], capture_output=True)


if __name__ == "__main__":
    main()
