#!/usr/bin/env python3
"""Time to first notebook: from `berth run -d -p P:8888 <jupyter image>` to the first HTTP answer on
127.0.0.1:P, and with --network host, vs `podman run -d --network host` (runc), vs the notebook server's own start-up
with no engine at all (the same root filesystem, chroot in a private mount namespace, host
network). Side by side in one run, tools interleaved, the same OCI archive loaded into each
tool's own temporary store.

berth's overhead is its median minus the bare server's median; the target (issue 4) is at most
50 ms. The image is tests/images/jupyter.sh's (Debian's python3-notebook, numpy, pandas,
matplotlib), built on first use (several minutes; needs the Debian mirror).

Run as root: bench/notebook.py [--runs N] [--user NAME]. BERTH selects the binary (default
build/berth). With --user (issue 14: the overhead rootless, target <= 100 ms), berth runs as that
unprivileged user, in its own store, -p through pasta (/dev/net/tun made 0666 as udev makes it,
put back after), and podman rootless (--network host) as the same user; the user needs a
subordinate range for podman (scripts/test.sh's berth-rl-test has one).
"""
import argparse
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from berth_bin import berth_binary  # noqa: E402

BERTH = berth_binary()
TOKEN = "bench-token"
CMD = ["python3", "-m", "notebook", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--allow-root"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def first_answer(port, t0, timeout=120):
    """Polls until the server answers an HTTP request; returns seconds since t0."""
    req = f"GET /api/status?token={TOKEN} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode()
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(req)
                if s.recv(16).startswith(b"HTTP/"):
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.002)
    sys.exit(f"bench/notebook.py: nothing answered on port {port} within {timeout} s")


def run(cmd, **kw):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"bench/notebook.py: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--user", help="run berth and podman as this unprivileged user")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/notebook.py: run as root")
    for tool in ("podman", "unshare", "chroot"):
        if not shutil.which(tool):
            sys.exit(f"bench/notebook.py: {tool} is missing (scripts/deps.sh installs it)")
    archive = run([os.path.join(HERE, "..", "tests", "images", "jupyter.sh")]).strip()
    work = tempfile.mkdtemp(prefix="berth-bench-notebook-")
    try:
        conf = os.path.join(work, "containers.conf")
        with open(conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n')
        os.environ["CONTAINERS_CONF"] = conf
        berth = [BERTH, "--root", os.path.join(work, "berth")]
        podman = ["podman", "--root", os.path.join(work, "podman"), "--runroot", os.path.join(work, "podman-run")]
        if args.user:
            pw = pwd.getpwnam(args.user)
            os.chmod(work, 0o755)
            home, rdir = os.path.join(work, "home"), os.path.join(work, "run")
            for d in (home, rdir):
                os.makedirs(d, mode=0o700)
                os.chown(d, pw.pw_uid, pw.pw_gid)
            shutil.copy(conf, os.path.join(home, "containers.conf"))
            user = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "env", "-i",
                    f"HOME={home}", f"XDG_RUNTIME_DIR={rdir}", "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
                    f"CONTAINERS_CONF={home}/containers.conf"]
            berth = user + [BERTH]
            podman = user + ["podman", "--root", os.path.join(home, "podman"), "--runroot",
                             os.path.join(rdir, "podman")]
            tun_mode = os.stat("/dev/net/tun").st_mode & 0o7777
            os.chmod("/dev/net/tun", 0o666)
        run(berth + ["load", "-q", "-i", archive])
        berth_ref = run(berth + ["images", "-q"]).split()[0]
        out = run(podman + ["load", "-i", archive])
        podman_ref = out.strip().splitlines()[-1].split(": ", 1)[-1]
        # The bare server: the image's files, unpacked once by podman (not by berth).
        rootfs = os.path.join(work, "rootfs")
        os.makedirs(rootfs)
        cid = run(podman + ["create", podman_ref]).strip()
        # Into a file the caller (root or the user) may write: podman as a user cannot open the
        # pipe's /dev/stdout.
        exported = os.path.join(home if args.user else work, "rootfs.tar")
        run(podman + ["export", "-o", exported, cid])
        run(podman + ["rm", cid])
        subprocess.run(["tar", "-x", "-C", rootfs, "-f", exported], check=True)
        os.unlink(exported)

        def bare():
            port = free_port()
            script = (f"mount -t proc proc {rootfs}/proc && mount --rbind /dev {rootfs}/dev && "
                      f"mount -t tmpfs tmpfs {rootfs}/tmp && "
                      f"exec chroot {rootfs} env HOME=/tmp "
                      f"JUPYTER_TOKEN={TOKEN} " + " ".join(CMD).replace("8888", str(port)))
            t0 = time.perf_counter()
            p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t = first_answer(port, t0)
            p.terminate()
            p.wait()
            return t

        def engine(base, ref, host_network=False):
            def one():
                port = free_port()
                if host_network:
                    net = ["--network", "host"]
                    cmd = [c.replace("8888", str(port)) for c in CMD]
                else:
                    net, cmd = ["-p", f"127.0.0.1:{port}:8888"], []
                t0 = time.perf_counter()
                cid = run(base + ["run", "-d"] + net + ["-e", f"JUPYTER_TOKEN={TOKEN}", "-e", "HOME=/tmp", ref]
                          + cmd).strip()
                t = first_answer(port, t0)
                run(base + ["rm", "-f", cid])
                return t
            return one

        # podman's -p forwarding (netavark) answers nothing on the machine this was written on, so
        # podman is measured with the host's network, and berth both ways.
        tools = {"bare server": bare, "berth -p": engine(berth, berth_ref),
                 "berth host": engine(berth, berth_ref, True), "podman host": engine(podman, podman_ref, True)}
        for f in tools.values():  # warm the page cache
            f()
        times = {n: [] for n in tools}
        for _ in range(args.runs):
            for n, f in tools.items():
                times[n].append(f())
        med = {n: statistics.median(v) * 1000 for n, v in times.items()}
        print(f"{'':14}{'first answer (ms)':>18}{'overhead (ms)':>15}")
        for n in tools:
            over = "" if n == "bare server" else f"{med[n] - med['bare server']:15.0f}"
            print(f"{n:14}{med[n]:18.0f}{over}")
        who = f"as {args.user}, rootless" if args.user else "as root"
        target = 100 if args.user else 50
        print(f"{who}: berth's overhead over the server's own start-up: "
              f"{med['berth -p'] - med['bare server']:.0f} ms with -p, "
              f"{med['berth host'] - med['bare server']:.0f} ms with --network host (target <= {target}); "
              f"podman's: {med['podman host'] - med['bare server']:.0f} ms with --network host")
    finally:
        subprocess.run(podman + ["rm", "-af"], capture_output=True) if "podman" in locals() else None
        if "tun_mode" in locals():
            os.chmod("/dev/net/tun", tun_mode)
            # podman rootless leaves its pause process (the user namespace's holder) running.
            pause = os.path.join(rdir, "libpod", "tmp", "pause.pid")
            if os.path.exists(pause):
                subprocess.run(["kill", open(pause).read().strip()], capture_output=True)
        subprocess.run(["umount", "-R", os.path.join(work, "berth")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
