#!/usr/bin/env python3
"""berth pull vs podman pull vs skopeo copy + umoci unpack, side by side in one run.

The image is the Jupyter test image (tests/images/jupyter.sh: Debian's python3-notebook, numpy,
pandas, matplotlib; one layer), pushed by skopeo (gzip) into a docker-registry started here on
127.0.0.1 with a temp storage dir, plus a variant split into --layers layers (the same files,
cut by size), since pulling layers in parallel matters.

Measures, per variant:
  1. cold pull: the median of --runs pulls into an empty store (berth --root, podman
     --root/--runroot, a fresh OCI dir and bundle for skopeo + umoci), tools interleaved so
     drift on a shared machine affects them alike;
  2. the machine's limit: bench/limit (built next to berth: build/bench/limit) on the registry's own blob
     files: sha256 of each blob + inflate (ISA-L) + sha256 of the tar, layers in parallel, no
     files written: what no correct pull can skip; and the same with each tar piped into GNU
     `tar -x` (limit --extract): that floor plus writing the files with the standard tool, still
     without the network, the registry's own CPU or keeping the blob;
  3. warm re-pull: pulling again into the store that has the image (only the manifest moves).
Prints the table and the ratios berth/podman (target <= 0.33), berth/limit (target <= 1.5) and
berth/(limit + tar -x).

Everything (the registry's storage, every store) lives on a tmpfs mounted for the run, so the
numbers are the engines' work, not the disk's: berth syncs each layer before it becomes visible
(syncfs), the peers do not sync at all, and on a slow or shared disk that one difference would
be the whole result. --on-disk DIR measures on a real file system instead.

Run as root: sudo bench/pull.py [--runs N] [--layers N] [--jobs N]
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from berth_bin import berth_binary  # noqa: E402

BERTH = berth_binary()
# Another berth to compare with (before/after a change): the tool "berth-base" in --tools.
BERTH_BASE = os.environ.get("BERTH_BASE", "")
LIMIT = os.environ.get("BERTH_LIMIT", os.path.join(os.path.dirname(os.path.realpath(BERTH)), "bench", "limit"))
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, **kw)


def timed(cmd, env=None):
    t0 = time.perf_counter()
    run(cmd, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work, storage):
    port = free_port()
    cfg = os.path.join(work, "registry.yml")
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {storage}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    log = open(os.path.join(work, "registry.log"), "w")
    proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=log, stderr=log)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("bench/pull.py: docker-registry did not come up")


def manifest(reg, repo, tag):
    req = urllib.request.Request(f"http://{reg}/v2/{repo}/manifests/{tag}", headers={"Accept": ",".join([
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json"])})
    return json.load(urllib.request.urlopen(req))


def has_tag(reg, repo, tag):
    try:
        manifest(reg, repo, tag)
        return True
    except OSError:
        return False


def blob_path(storage, digest):
    hex_ = digest.split(":", 1)[1]
    return f"{storage}/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data"


def add_blob(layout, data_or_path):
    """Adds bytes (or a file, moved in) to an OCI layout; returns (digest, size)."""
    h = hashlib.sha256()
    if isinstance(data_or_path, bytes):
        h.update(data_or_path)
        size = len(data_or_path)
    else:
        with open(data_or_path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        size = os.path.getsize(data_or_path)
    dest = os.path.join(layout, "blobs", "sha256", h.hexdigest())
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if isinstance(data_or_path, bytes):
        with open(dest, "wb") as f:
            f.write(data_or_path)
    else:
        os.replace(data_or_path, dest)
    return "sha256:" + h.hexdigest(), size


def split_image(archive, work, nlayers):
    """The image in `archive` (an OCI archive with one layer) as an OCI layout with the same
    files in `nlayers` layers, cut by size in archive order. Every layer carries the directory
    entries above its files (so each lower layer's directories keep their metadata), and a hard
    link stays in the layer of its target."""
    src = os.path.join(work, "src-oci")
    os.makedirs(src)
    run(["tar", "-xf", archive, "-C", src])
    index = json.load(open(os.path.join(src, "index.json")))
    mdesc = index["manifests"][0]
    blob = lambda d: os.path.join(src, "blobs", *d.split(":", 1))
    man = json.load(open(blob(mdesc["digest"])))
    config = json.load(open(blob(man["config"]["digest"])))
    if len(man["layers"]) != 1:
        sys.exit("bench/pull.py: expected a one-layer image")
    layer = blob(man["layers"][0]["digest"])
    total = os.path.getsize(layer)
    with open(layer, "rb") as f:
        if f.read(2) == b"\x1f\x8b":  # gzip: the trailer has the size mod 2^32
            f.seek(-4, 2)
            isize = int.from_bytes(f.read(4), "little")
            while isize < total:
                isize += 1 << 32
            total = isize

    out = os.path.join(work, "split-oci")
    parts = [os.path.join(work, f"part{i}.tar") for i in range(nlayers)]
    writers = [tarfile.open(p, "w", format=tarfile.PAX_FORMAT) for p in parts]
    dirs = {}  # path -> TarInfo of every directory seen
    written_dirs = [set() for _ in range(nlayers)]
    home = {}  # file path -> layer index (for hard links)
    done = 0
    with tarfile.open(layer, "r:*") as t:
        for m in t:
            name = m.name.rstrip("/")
            if m.isdir():
                dirs[name] = m
                writers[0].addfile(m)
                written_dirs[0].add(name)
                continue
            if m.islnk():
                k = home.get(m.linkname.rstrip("/"), 0)
            else:
                k = min(nlayers - 1, done * nlayers // max(total, 1))
            done += m.size + 512
            home[name] = k
            if k > 0:
                parents, p = [], os.path.dirname(name)
                while p and p not in written_dirs[k]:
                    parents.append(p)
                    p = os.path.dirname(p)
                for d in reversed(parents):
                    if d in dirs:
                        writers[k].addfile(dirs[d])
                    written_dirs[k].add(d)
            writers[k].addfile(m, t.extractfile(m) if m.isreg() else None)
    for w in writers:
        w.close()

    os.makedirs(out)
    layers, diff_ids = [], []
    for p in parts:
        d, size = add_blob(out, p)
        layers.append({"mediaType": OCI_TAR, "digest": d, "size": size})
        diff_ids.append(d)
    config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config["history"] = [{"created": config.get("created", ""), "created_by": f"bench/pull.py part {i}"}
                         for i in range(nlayers)]
    cd, cs = add_blob(out, json.dumps(config).encode())
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
         "layers": layers}
    md, ms = add_blob(out, json.dumps(m).encode())
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": m["mediaType"], "digest": md, "size": ms,
             "annotations": {"org.opencontainers.image.ref.name": "split"}}]}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    shutil.rmtree(src)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--layers", type=int, default=4, help="layers of the split variant")
    ap.add_argument("--jobs", type=int, default=4, help="berth pull -j and limit --jobs")
    ap.add_argument("--image", help="an OCI archive to use instead of tests/images/jupyter.sh's")
    ap.add_argument("--tools", default="berth,podman,skopeo+umoci")
    ap.add_argument("--on-disk", metavar="DIR", help="work in DIR instead of a tmpfs")
    ap.add_argument("--tmpfs-size", default="16g")
    ap.add_argument("--registry-dir", help="keep the registry's storage here and reuse it next time "
                    "(pushing and splitting the image take minutes)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/pull.py: run as root")
    for tool in ("docker-registry", "skopeo", "podman", "umoci"):
        if not shutil.which(tool):
            sys.exit(f"bench/pull.py: {tool} is not installed (scripts/deps.sh)")
    if not os.access(LIMIT, os.X_OK):
        sys.exit(f"bench/pull.py: {LIMIT} is missing: cmake --build build --target berth_bench_limit")
    tools = args.tools.split(",")

    image = args.image or run([os.path.join(ROOT, "tests", "images", "jupyter.sh")],
                              stdout=subprocess.PIPE, text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="berth-bench-pull-", dir=args.on_disk or "/var/tmp")
    if not args.on_disk:
        run(["mount", "-t", "tmpfs", "-o", f"size={args.tmpfs_size},mode=0755", "berth-bench", work])
    reg_proc = None
    try:
        storage = args.registry_dir or os.path.join(work, "registry")
        reg_proc, reg = start_registry(work, storage)
        push = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        # Tags name the image archive, so a kept registry never serves a stale image.
        key = hashlib.sha256(os.path.realpath(image).encode()).hexdigest()[:8]
        variants = {"1 layer": f"{reg}/jupyter:{key}-1layer"}
        if not has_tag(reg, "jupyter", f"{key}-1layer"):
            run(push + [f"oci-archive:{image}", f"docker://{variants['1 layer']}"])
        if args.layers > 1:
            name = f"{args.layers} layers"
            variants[name] = f"{reg}/jupyter:{key}-{args.layers}layers"
            if not has_tag(reg, "jupyter", f"{key}-{args.layers}layers"):
                layout = split_image(image, work, args.layers)
                run(push + [f"oci:{layout}:split", f"docker://{variants[name]}"])
                shutil.rmtree(layout)
        info = {}
        for v, ref in variants.items():
            m = manifest(reg, "jupyter", ref.rsplit(":", 1)[1])
            info[v] = {"blobs": [blob_path(storage, l["digest"]) for l in m["layers"]],
                       "compressed": sum(l["size"] for l in m["layers"])}

        conf = os.path.join(work, "containers.conf")
        with open(conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n')
        penv = dict(os.environ, CONTAINERS_CONF=conf)

        def podman(d, ref):
            # podman refuses a --runroot over 50 characters.
            runroot = tempfile.mkdtemp(prefix="bp-", dir="/run")
            os.symlink(runroot, f"{d}/runroot")
            return ["podman", "--root", f"{d}/root", "--runroot", runroot,
                    "--storage-driver", "overlay", "pull", "-q", "--tls-verify=false", ref]

        def cleanup(d):
            link = f"{d}/runroot"
            if os.path.islink(link):
                subprocess.run(["rm", "-rf", os.readlink(link)])
            subprocess.run(["rm", "-rf", d])

        def cold(tool, ref, i):
            d = tempfile.mkdtemp(prefix=f"{tool}-", dir=work)
            try:
                if tool in ("berth", "berth-base"):
                    exe = BERTH if tool == "berth" else BERTH_BASE
                    return timed([exe, "--root", d, "pull", "-q", "-j", str(args.jobs), ref])
                if tool == "podman":
                    return timed(podman(d, ref), env=penv)
                t0 = time.perf_counter()
                run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}",
                     f"oci:{d}/oci:x"], stdout=subprocess.DEVNULL)
                run(["umoci", "unpack", "--image", f"{d}/oci:x", f"{d}/bundle"],
                    stdout=subprocess.DEVNULL)
                return time.perf_counter() - t0
            finally:
                cleanup(d)

        results = {v: {t: [] for t in tools + ["limit", "limit+tar"]} for v in variants}
        for v, ref in variants.items():
            for t in tools:  # warm-up: the registry's files into the page cache, binaries loaded
                cold(t, ref, -1)
                break
            for i in range(args.runs):
                for t in tools:
                    results[v][t].append(cold(t, ref, i))
                out = run([LIMIT, "--jobs", str(args.jobs)] + info[v]["blobs"],
                          stdout=subprocess.PIPE, text=True).stdout
                lim = json.loads(out)
                results[v]["limit"].append(lim["seconds"])
                info[v]["uncompressed"] = lim["uncompressed"]
                dest = tempfile.mkdtemp(prefix="limit-x-", dir=work)
                out = run([LIMIT, "--jobs", str(args.jobs), "--extract", dest] + info[v]["blobs"],
                          stdout=subprocess.PIPE, text=True).stdout
                results[v]["limit+tar"].append(json.loads(out)["seconds"])
                subprocess.run(["rm", "-rf", dest])

        # Warm re-pull: the image is in the store; only manifests travel.
        warm = {v: {} for v in variants}
        warm_tools = [t for t in ("berth", "podman") if t in tools]
        for v, ref in variants.items():
            cmds = {}
            for t in warm_tools:
                d = tempfile.mkdtemp(prefix=f"{t}-warm-", dir=work)
                cmds[t] = [BERTH, "--root", d, "pull", "-q", ref] if t == "berth" else podman(d, ref)
                timed(cmds[t], env=penv)
            times = {t: [] for t in warm_tools}
            for _ in range(max(args.runs, 5)):
                for t in warm_tools:
                    times[t].append(timed(cmds[t], env=penv))
            warm[v] = {t: statistics.median(times[t]) for t in warm_tools}
            for d in os.listdir(work):
                if "-warm-" in d:
                    cleanup(os.path.join(work, d))

        print(f"image: {image}; stores on {args.on_disk or 'tmpfs'}; {os.cpu_count()} CPUs")
        for v in variants:
            print(f"  {v:10} {len(info[v]['blobs'])} blob(s), {info[v]['compressed'] / 2**20:7.1f} MiB gzip, "
                  f"{info[v]['uncompressed'] / 2**20:7.1f} MiB tar")
        print(f"cold pull, median of {args.runs} (s); berth -j {args.jobs}, limit --jobs {args.jobs}")
        cols = list(variants)
        print(f"{'':28}" + "".join(f"{c:>12}" for c in cols))
        labels = {"berth": "berth pull", "berth-base": "berth pull (BERTH_BASE)", "podman": "podman pull",
                  "skopeo+umoci": "skopeo copy + umoci unpack", "limit": "limit (sha256+inflate)",
                  "limit+tar": "limit + GNU tar -x"}
        med = {v: {t: statistics.median(r) for t, r in results[v].items() if r} for v in variants}
        for t in tools + ["limit", "limit+tar"]:
            print(f"{labels.get(t, t):28}" + "".join(f"{med[v][t]:12.2f}" for v in cols))
        print(f"{'warm re-pull (s)':28}")
        for t in warm_tools:
            print(f"{'  ' + labels[t]:28}" + "".join(f"{warm[v][t]:12.3f}" for v in cols))
        if "berth" not in tools:
            return
        print("ratios")
        if "podman" in tools:
            print(f"{'  berth/podman (<= 0.33)':28}" +
                  "".join(f"{med[v]['berth'] / med[v]['podman']:12.2f}" for v in cols))
        if "skopeo+umoci" in tools:
            print(f"{'  berth/skopeo+umoci':28}" +
                  "".join(f"{med[v]['berth'] / med[v]['skopeo+umoci']:12.2f}" for v in cols))
        if "berth-base" in tools:
            print(f"{'  berth/berth-base':28}" +
                  "".join(f"{med[v]['berth'] / med[v]['berth-base']:12.2f}" for v in cols))
        print(f"{'  berth/limit (<= 1.5)':28}" +
              "".join(f"{med[v]['berth'] / med[v]['limit']:12.2f}" for v in cols))
        print(f"{'  berth/(limit + tar -x)':28}" +
              "".join(f"{med[v]['berth'] / med[v]['limit+tar']:12.2f}" for v in cols))
        if "podman" in tools:
            print(f"{'  warm berth/podman':28}" +
                  "".join(f"{warm[v]['berth'] / warm[v]['podman']:12.2f}" for v in cols))
    finally:
        if reg_proc:
            reg_proc.terminate()
            reg_proc.wait()
        if not args.on_disk:
            subprocess.run(["umount", work])
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
