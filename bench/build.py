#!/usr/bin/env python3
"""`berth build` vs `buildah bud --layers`, side by side in one run, on the same Dockerfile and
context: a generated source tree of ~20k files (mixed small files in nested directories, tens of
MB) with a .dockerignore, copied with `COPY . /src`, then RUN steps that write files and config
instructions, FROM one tiny busybox image made here (an OCI archive of a busybox-static rootfs,
loaded into berth with `berth load` and into buildah's storage with `skopeo copy`: the same
manifest, config and layer in both).

Measures, per round (tools interleaved, the first of each round alternating):
  1. cold build: a fresh store holding only the base image (no cached step);
  2. unchanged rebuild: the same build again; every step must come from the cache (berth prints
     CACHED for each, buildah "Using cache");
  3. one copied file changed: one file of the context rewritten, then the build again; the steps
     before COPY must be cached and COPY and every later step rebuilt (checked in both outputs);
  4. independent stages: a second, cold Dockerfile of three stages that do not depend on each
     other (each a RUN of shell arithmetic, CPU-bound, ~1 s) copied into a fourth; berth builds
     them at once, buildah with `--jobs 3` (its parallel stages).
Prints the median of --runs rounds for each, the ratios berth/buildah (targets: cold <= 0.5,
unchanged rebuild <= 0.2) and the absolute time of berth's unchanged rebuild.

The peers' configuration: buildah with its overlay storage driver in a private --root/--runroot,
CONTAINERS_CONF setting runtime = "runc" and default_ulimits = [], RUN steps in its default OCI
isolation (runc); berth with its own defaults. RUN's network is each tool's default (berth's
bridge, buildah's) unless --network none|host gives both the same. Everything (the context,
both stores) lives on a tmpfs mounted for the run, so the numbers are the engines' work, not
the disk's (berth syncs each layer before it becomes visible; buildah does not sync); --on-disk
DIR measures on a real file system instead (each build starts after a `sync`, untimed, so that
berth's syncfs never writes out what the other tool's build left dirty).

Run as root: bench/build.py [--runs N] [--quick] [--files N] [--network none|host] [--on-disk DIR]
BERTH selects the binary (default build/berth; use an optimized build for figures you quote);
BERTH_BASE=OTHER and --tools berth,berth-base,buildah add another berth (before/after a change).
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import re
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
# Another berth to compare with (before/after a change): the tool "berth-base" in --tools.
BERTH_BASE = os.environ.get("BERTH_BASE", "")
BASE = "localhost/bench/base:latest"
OUT = "localhost/bench/out:latest"
OUT_STAGES = "localhost/bench/stages:latest"
CHANGED = "pkg00/mod3/file0042.txt"  # the file the third measurement rewrites

DOCKERFILE = """\
FROM {base}
ENV APP_HOME=/src LANG=C.UTF-8
COPY . /src
RUN find /src -type f | wc -l > /count
RUN mkdir /out && for i in $(seq 1 200); do echo "$i" > /out/$i; done
RUN head -c 4194304 /dev/urandom > /blob && md5sum /blob > /blob.md5
RUN cat /src/{changed} > /changed && du -s /src > /src.du
WORKDIR /src
LABEL org.example.bench=build
EXPOSE 8080
CMD ["sh"]
"""
DOCKERIGNORE = ".git\n*.log\nbuild/\n**/*.tmp\n"

# Three stages that do not depend on each other, each busy in the shell for a while, then a fourth
# that copies from them (phase 4). {round} makes every round's build cold.
SPIN = "RUN i=0; while [ $i -lt {loops} ]; do i=$((i+1)); done; echo {name} {round} > /{name}\n"
DOCKERFILE_STAGES = "".join(f"FROM {{base}} AS {n}\n" + SPIN.replace("{name}", n) for n in "abc") + \
    "FROM {base}\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nCOPY --from=c /c /c\n"


def fail(msg):
    sys.exit(f"bench/build.py: {msg}")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, **kw)


def timed(cmd, env=None):
    """Runs `cmd`; returns (seconds, stdout+stderr text)."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}")
    return dt, r.stdout


# --- the base image -------------------------------------------------------------------------

def busybox_layer():
    """A busybox-static rootfs as tests/engine/busybox_rootfs.h makes it, as an uncompressed tar
    (fixed mtimes: the same bytes every time)."""
    buf = io.BytesIO()
    applets = run(["/bin/busybox", "--list"], stdout=subprocess.PIPE, text=True).stdout.split()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, type_, mode=0o755, data=b"", link=""):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.linkname = type_, mode, 1700000000, link
            info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data else None)
        for d in ("bin", "etc", "dev", "proc", "sys", "root"):
            add(d, tarfile.DIRTYPE)
        add("tmp", tarfile.DIRTYPE, 0o1777)
        add("bin/busybox", tarfile.REGTYPE, 0o755, open("/bin/busybox", "rb").read())
        for a in applets:
            if a != "busybox":
                add("bin/" + a, tarfile.SYMTYPE, 0o777, link="busybox")
        add("etc/passwd", tarfile.REGTYPE, 0o644,
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        add("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\n")
    return buf.getvalue()


def base_archive(path):
    """An OCI archive holding one image, BASE: the busybox layer (gzip), a config with PATH."""
    blobs = {}

    def blob(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return d, len(data)

    tar = busybox_layer()
    gz = gzip.compress(tar, compresslevel=6, mtime=0)
    layer, layer_size = blob(gz)
    config = {"created": "2023-11-14T22:13:20Z", "architecture": "amd64" if os.uname().machine == "x86_64"
              else os.uname().machine, "os": "linux",
              "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                         "Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
              "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "bench/build.py busybox"}]}
    cd, cs = blob(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer,
                            "size": layer_size}]}
    md, ms = blob(json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": manifest["mediaType"], "digest": md, "size": ms,
         "annotations": {"org.opencontainers.image.ref.name": BASE, "io.containerd.image.name": BASE}}]}
    with tarfile.open(path, "w") as t:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for d, data in blobs.items():
            add("blobs/sha256/" + d.split(":", 1)[1], data)


# --- the context ----------------------------------------------------------------------------

def make_context(ctx, nfiles, seed=13):
    """~nfiles files under pkgNN/modN/ (80% 100 B-1.5 KiB, 18% to 8 KiB, 2% to 64 KiB: text, as
    source trees are), plus what .dockerignore leaves out (.git, build/, *.log, *.tmp).
    Returns (files kept, bytes kept, files ignored)."""
    rnd = random.Random(seed)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rnd.randint(2, 10)))
             for _ in range(2000)]
    pool = []
    n = 0
    while n < 1 << 20:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) + "\n"
        pool.append(line)
        n += len(line)
    text = "".join(pool).encode()

    def body(path, size):
        off = rnd.randrange(0, len(text) - size - 1)
        head = f"// {path}\n".encode()
        return head + text[off:off + max(0, size - len(head))]

    def size():
        r = rnd.random()
        if r < 0.80:
            return rnd.randint(100, 1536)
        if r < 0.98:
            return rnd.randint(1536, 8192)
        return rnd.randint(8192, 65536)

    kept = total = ignored = 0
    per_mod = 100
    mods = 8
    pkgs = max(1, (nfiles + mods * per_mod - 1) // (mods * per_mod))
    for p in range(pkgs):
        for m in range(mods):
            d = os.path.join(ctx, f"pkg{p:02d}", f"mod{m}")
            os.makedirs(d)
            for f in range(per_mod):
                if kept >= nfiles:
                    break
                rel = f"pkg{p:02d}/mod{m}/file{f:04d}.txt"
                data = body(rel, size())
                with open(os.path.join(ctx, rel), "wb") as out:
                    out.write(data)
                kept += 1
                total += len(data)
            with open(os.path.join(d, "scratch.tmp"), "wb") as out:  # ignored
                out.write(b"x" * 100)
            ignored += 1
    for skipped in (".git/objects", "build/obj"):
        d = os.path.join(ctx, skipped)
        os.makedirs(d)
        for f in range(300):
            with open(os.path.join(d, f"o{f}"), "wb") as out:
                out.write(body(skipped, 2000))
                ignored += 1
    with open(os.path.join(ctx, "debug.log"), "wb") as out:
        out.write(b"ignored\n" * 1000)
    ignored += 1
    with open(os.path.join(ctx, ".dockerignore"), "w") as out:
        out.write(DOCKERIGNORE)
    with open(os.path.join(ctx, "Dockerfile"), "w") as out:
        out.write(DOCKERFILE.format(base=BASE, changed=CHANGED))
    # Dockerfile and .dockerignore are in the context too (not ignored).
    return kept + 2, total, ignored


# --- the tools ------------------------------------------------------------------------------

class Berth:
    def __init__(self, work, archive, network, name="berth", exe=BERTH):
        self.work, self.archive, self.network = work, archive, network
        self.name, self.exe = name, exe
        self.root = None

    def fresh(self, i):
        self.clean()
        self.root = os.path.join(self.work, f"{self.name}-{i}")
        run([self.exe, "--root", self.root, "load", "-q", "-i", self.archive], stdout=subprocess.DEVNULL)

    def build(self, ctx, parallel=False):
        cmd = [self.exe, "--root", self.root, "build", "-t", OUT_STAGES if parallel else OUT]
        if self.network:
            cmd += ["--network", self.network]
        return timed(cmd + [ctx])

    @staticmethod
    def cached_steps(out):
        """[(instruction, cached)] of a build's output, FROM left out."""
        steps, cached = {}, set()
        for line in out.splitlines():
            m = re.match(r"^#(\d+) \[(?:\S+ )?(\d+)/(\d+)\] (.*)$", line)
            if m:
                steps[int(m.group(1))] = m.group(4)
            elif re.match(r"^#(\d+) CACHED$", line):
                cached.add(int(line[1:].split()[0]))
        return [(t, v in cached) for v, t in sorted(steps.items()) if not t.startswith("FROM ")]

    def read(self, path, image=OUT):
        return run([self.exe, "--root", self.root, "run", "--rm", "--network", "none", image, "cat", path],
                   stdout=subprocess.PIPE, text=True).stdout

    def clean(self):
        if not self.root:
            return
        left = subprocess.run([self.exe, "--root", self.root, "ps", "-aq"], capture_output=True,
                              text=True).stdout.split()
        if left:
            subprocess.run([self.exe, "--root", self.root, "rm", "-f", "-v"] + left, capture_output=True)
        unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


class Buildah:
    name = "buildah"

    def __init__(self, work, archive, network):
        self.work, self.archive, self.network = work, archive, network
        self.root = self.runroot = None
        conf = os.path.join(work, "containers.conf")
        with open(conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=conf)

    def base(self):
        return ["buildah", "--root", self.root, "--runroot", self.runroot, "--storage-driver", "overlay"]

    def fresh(self, i):
        self.clean()
        self.root = os.path.join(self.work, f"buildah-{i}")
        # A short runroot (the overlay driver and runc put sockets there).
        self.runroot = tempfile.mkdtemp(prefix="bb-", dir="/run")
        storage = f"containers-storage:[overlay@{self.root}+{self.runroot}]{BASE}"
        run(["skopeo", "copy", "--quiet", f"oci-archive:{self.archive}", storage], env=self.env,
            stdout=subprocess.DEVNULL)

    def build(self, ctx, parallel=False):
        cmd = self.base() + ["bud", "--layers", "--pull=false", "-t", OUT_STAGES if parallel else OUT]
        if parallel:
            cmd += ["--jobs", "3"]
        if self.network:
            cmd += ["--network", self.network]
        return timed(cmd + [ctx], env=self.env)

    @staticmethod
    def cached_steps(out):
        steps = []
        for line in out.splitlines():
            m = re.match(r"^(?:\[\d+/\d+\] )?STEP (\d+)/(\d+): (.*)$", line)  # [stage] with --jobs
            if m:
                steps.append([m.group(3), False])
            elif line.startswith("--> Using cache") and steps:
                steps[-1][1] = True
        return [(t, c) for t, c in steps if not t.startswith("FROM ")]

    def read(self, path, image=OUT):
        ctr = run(self.base() + ["from", "--pull=false", "-q", image], stdout=subprocess.PIPE, text=True,
                  env=self.env).stdout.strip()
        try:
            mnt = run(self.base() + ["mount", ctr], stdout=subprocess.PIPE, text=True,
                      env=self.env).stdout.strip()
            with open(os.path.join(mnt, path.lstrip("/"))) as f:
                return f.read()
        finally:
            subprocess.run(self.base() + ["rm", ctr], env=self.env, capture_output=True)

    def clean(self):
        if not self.root:
            return
        subprocess.run(self.base() + ["rm", "-a"], env=self.env, capture_output=True)
        subprocess.run(self.base() + ["rmi", "-a", "-f"], env=self.env, capture_output=True)
        for d in (self.root, self.runroot):
            unmount_under(d)
            shutil.rmtree(d, ignore_errors=True)
        self.root = self.runroot = None


def unmount_under(path):
    """Lazily unmounts whatever is mounted at or below `path`, deepest first."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted({p for p in points if p == path or p.startswith(path + "/")}, key=len, reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


def check_steps(tool, phase, steps, rebuilt_from):
    """Asserts which steps came from the cache: all before the step whose text starts with
    `rebuilt_from`, none from it on (rebuilt_from None: all cached; "" : none cached)."""
    if not steps:
        fail(f"{tool.name} {phase}: no steps in its output")
    seen_change = rebuilt_from == ""
    for text, cached in steps:
        if rebuilt_from and text.startswith(rebuilt_from):
            seen_change = True
        want = not seen_change
        if cached != want:
            fail(f"{tool.name} {phase}: step {text!r} was {'cached' if cached else 'rebuilt'}, "
                 f"expected {'cached' if want else 'rebuilt'}")
    if rebuilt_from and not seen_change:
        fail(f"{tool.name} {phase}: no step {rebuilt_from!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds measured (after one warm-up round)")
    ap.add_argument("--quick", action="store_true", help="2 rounds, no warm-up")
    ap.add_argument("--files", type=int, default=20000, help="files COPY copies")
    ap.add_argument("--network", choices=("none", "host"), help="RUN's network for both tools "
                    "(default: each tool's default)")
    ap.add_argument("--on-disk", metavar="DIR", help="work in DIR instead of a tmpfs")
    ap.add_argument("--tmpfs-size", default="8g")
    ap.add_argument("--tools", default="berth,buildah")
    ap.add_argument("--loops", type=int, default=300000,
                    help="shell loop iterations of each independent stage's RUN (phase 4)")
    args = ap.parse_args()
    if args.quick:
        args.runs = 2
    if os.geteuid() != 0:
        fail("run as root")
    for tool in ("buildah", "skopeo", "runc"):
        if not shutil.which(tool):
            fail(f"{tool} is not installed (scripts/deps.sh)")
    if not os.path.exists("/bin/busybox"):
        fail("/bin/busybox is missing (busybox-static)")

    work = tempfile.mkdtemp(prefix="berth-bench-build-", dir=args.on_disk or "/var/tmp")
    if not args.on_disk:
        run(["mount", "-t", "tmpfs", "-o", f"size={args.tmpfs_size},mode=0755", "berth-bench", work])
    tools = []
    try:
        archive = os.path.join(work, "base.oci.tar")
        base_archive(archive)
        ctx = os.path.join(work, "context")
        t0 = time.perf_counter()
        nfiles, nbytes, nignored = make_context(ctx, args.files)
        gen = time.perf_counter() - t0
        byname = {"berth": Berth, "buildah": Buildah,
                  "berth-base": lambda *a: Berth(*a, name="berth-base", exe=BERTH_BASE)}
        tools = [byname[t](work, archive, args.network) for t in args.tools.split(",")]
        stages_ctx = os.path.join(work, "stages")
        os.makedirs(stages_ctx)
        phases = ("cold", "unchanged", "changed", "stages")
        times = {t.name: {p: [] for p in phases} for t in tools}
        checked = {}  # (tool, phase) -> (steps cached, steps rebuilt), as asserted
        # The changed file takes each round's number, so every round's "changed" build sees new
        # content, and the next round's cold build starts from that context.
        warmup = 0 if args.quick else 1
        for i in range(args.runs + warmup):
            order = tools if i % 2 == 0 else tools[::-1]
            for t in order:
                t.fresh(i)
            for phase in phases:
                if phase == "changed":
                    with open(os.path.join(ctx, CHANGED), "a") as f:
                        f.write(f"changed in round {i}\n")
                if phase == "stages":
                    with open(os.path.join(stages_ctx, "Dockerfile"), "w") as f:
                        f.write(DOCKERFILE_STAGES.replace("{loops}", str(args.loops))
                                .replace("{round}", str(i)).replace("{base}", BASE))
                for t in order:
                    # Nothing left dirty by the build before (the other tool's): berth syncs its
                    # layers (syncfs), and that flush would be writing out the other's files.
                    os.sync()
                    dt, out = t.build(stages_ctx if phase == "stages" else ctx, phase == "stages")
                    steps = t.cached_steps(out)
                    check_steps(t, phase, steps,
                                {"cold": "", "unchanged": None, "changed": "COPY", "stages": ""}[phase])
                    checked[(t.name, phase)] = (sum(c for _, c in steps), sum(not c for _, c in steps))
                    if i >= warmup:
                        times[t.name][phase].append(dt)
            if i == 0:  # the same image content from both
                want = {(OUT, "/count"): f"{nfiles}\n", (OUT, "/changed"): open(os.path.join(ctx, CHANGED)).read(),
                        (OUT_STAGES, "/a"): "a 0\n", (OUT_STAGES, "/b"): "b 0\n", (OUT_STAGES, "/c"): "c 0\n"}
                for t in tools:
                    for (image, path), content in want.items():
                        got = t.read(path, image)
                        if got.strip() != content.strip():
                            fail(f"{t.name}: {path} holds {got[:200]!r}, expected {content[:200]!r}")
            for t in order:
                t.clean()

        print(f"context: {nfiles} files, {nbytes / 2**20:.1f} MiB copied (+ {nignored} ignored), "
              f"generated in {gen:.1f} s; stores on {args.on_disk or 'tmpfs'}; {os.cpu_count()} CPUs")
        print(f"RUN network: {args.network or 'each tool default (berth: bridge; buildah: its default)'}; "
              f"buildah bud --layers, overlay driver, OCI isolation (runc)")
        print("steps cached/rebuilt, checked in every round: " + "; ".join(
            f"{t.name} " + ", ".join(f"{p} {checked[(t.name, p)][0]}/{checked[(t.name, p)][1]}" for p in phases)
            for t in tools) + " (one file changed: every step before COPY cached, COPY and after rebuilt)")
        med = {t.name: {p: statistics.median(v) for p, v in times[t.name].items()} for t in tools}
        spread = {t.name: {p: (min(v), max(v)) for p, v in times[t.name].items()} for t in tools}
        labels = {"cold": "cold build", "unchanged": "unchanged rebuild", "changed": "one file changed",
                  "stages": "3 stages at once"}
        names = [t.name for t in tools]
        print(f"median of {args.runs} rounds, seconds (min-max)")
        print(f"{'':20}" + "".join(f"{n:>22}" for n in names) +
              (f"{'berth/buildah':>15}" if "berth" in names and "buildah" in names else ""))
        targets = {"cold": " (<= 0.5)", "unchanged": " (<= 0.2)", "changed": "", "stages": ""}
        for p in phases:
            row = f"{labels[p]:20}"
            for n in names:
                lo, hi = spread[n][p]
                row += f"{med[n][p]:10.3f} ({lo:.2f}-{hi:.2f})"
            if "berth" in med and "buildah" in med:
                row += f"{med['berth'][p] / med['buildah'][p]:8.2f}{targets[p]}"
            if "berth" in med and "berth-base" in med:
                row += f"   berth/berth-base {med['berth'][p] / med['berth-base'][p]:.2f}"
            print(row)
        if "berth" in med:
            print(f"berth unchanged rebuild: {med['berth']['unchanged'] * 1000:.0f} ms")
    finally:
        for t in tools:
            t.clean()
        if not args.on_disk:
            unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
