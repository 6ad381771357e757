#!/usr/bin/env python3
"""`berth build` against buildah, instruction by instruction (issue 13).

Each case is a Dockerfile and a build context, built twice from the same base image: by berth
(`berth build`) and by Debian's buildah (`buildah bud`). Both results are exported as OCI image
layouts (berth: `berth save --format oci-archive`; buildah: `buildah push oci:DIR`), unpacked by
a peer (`umoci raw unpack`), and compared

  - file by file: type, mode, owner, size, sha256 of the content, symlink target, device
    number, hard-link group (the paths sharing an inode in the tree), xattrs;
  - field by field in the image config: Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts,
    Volumes, Labels, Healthcheck, StopSignal, OnBuild, Shell (buildah's from `buildah inspect`,
    the docker-format config: its OCI export drops Healthcheck, OnBuild and Shell).

Modification times are not compared. The cases are small and run on a busybox-static base, so
they are fast and need no network; examples/ssh (the project's SSH image, on the Debian base of
scripts/debian-base.sh, apt over the network) comes last: skipped alone when the Debian mirror
is unreachable or BERTH_BUILDAH_SSH=0. buildah uses its overlay driver (docker's default is
overlay2; with vfs, a hard link made in a RUN to a lower-layer file is committed unlinked).

The base is made once: a busybox rootfs tarball, `berth import`ed, then `berth save`d and
copied by skopeo into buildah's private storage, so both builds start from the very same layer
and config.

Known differences, each justified where it is allowed:
  - buildah 1.28 commits the mount points it makes for a RUN container (/dev, /proc, /sys, /run
    as empty directories, /etc/hosts, /etc/hostname, /etc/resolv.conf as empty files) and for
    RUN --mount targets (with their parents); docker (BuildKit) removes the stubs it made, and
    so does berth: ignored when only buildah has them, empty, and the base had none.
  - buildah adds the label io.buildah.version: ignored.
  - buildah 1.28 predates here-documents in Dockerfiles (buildah 1.33): cases with heredocs give
    buildah an equivalent Dockerfile without them (the bodies as context files, the scripts as
    plain RUN lines), so what is compared is berth's heredoc semantics against the documented
    result.
  - Absent, null, empty list and empty map are one value in the config (docker's omitempty),
    and a Healthcheck's zero durations are the defaults they stand for.
  - Config fields where buildah 1.28 departs from docker's documented behaviour are checked
    against docker's value instead (`known_config`, with the reason at the case): SHELL for
    CMD's shell form, EXPOSE port ranges.
  - RUN steps record ids, not `id`'s whole output: buildah adds the primary group to a user's
    supplementary groups, docker (runc's GetExecUser) does not.

Environment: BERTH_BUILDAH_KEEP=1 (or --keep) keeps the work directory under /var/tmp,
BERTH_BUILDAH_VERBOSE=1 prints every command's output and the export phases' times.

Usage: buildah_compare.py BERTH [--set busybox|ssh|all] [--case NAME]... [--keep]
(ctest runs the busybox cases and examples/ssh as two tests.)
Exit status: 0 all cases match, 1 a difference or failure, 77 skipped (not root, a tool
missing; under CI=true a missing tool is a failure).
"""

import argparse
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BASE = "localhost/bc/base:latest"
# buildah's storage driver: overlay, as docker's default overlay2 (vfs commits a hard link made
# to a lower file without the link, and copies whole trees per step).
DRIVER = os.environ.get("BERTH_BUILDAH_DRIVER", "overlay")

# The image-config fields compared (issue 13's list).
CONFIG_FIELDS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
                 "Labels", "Healthcheck", "StopSignal", "OnBuild", "Shell"]

# Mount points buildah 1.28 creates for every RUN container and commits (see the docstring).
BUILDAH_RUN_STUBS = {"/dev", "/proc", "/sys", "/run", "/etc/hosts", "/etc/hostname",
                     "/etc/resolv.conf"}


class Failure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def run(argv, env=None, cwd=None, check=True, quiet=False):
    """Runs argv in its own session (containers started from a terminal session were sometimes
    killed with it); returns the CompletedProcess, raising Failure with its output when it
    fails and `check`."""
    p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       start_new_session=True, text=True, errors="replace")
    if check and p.returncode != 0:
        raise Failure(f"command failed ({p.returncode}): {' '.join(argv)}\n{p.stdout[-6000:]}")
    if not quiet and os.environ.get("BERTH_BUILDAH_VERBOSE"):
        log(p.stdout)
    return p


# ---------------------------------------------------------------------------------------------
# Files: helpers to write contexts and the base.

def write(path, content, mode=0o644, uid=0, gid=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.chown(path, uid, gid)


def mkdir(path, mode=0o755, uid=0, gid=0):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    os.chown(path, uid, gid)


def make_base(rootfs):
    """The busybox-static base (as tests/engine/busybox_rootfs.h makes it) plus users, groups and
    a /lower tree for the cases that delete, replace and link lower-layer files."""
    mkdir(rootfs + "/bin")
    mkdir(rootfs + "/etc")
    mkdir(rootfs + "/tmp", 0o1777)
    shutil.copy2("/bin/busybox", rootfs + "/bin/busybox")
    applets = run(["/bin/busybox", "--list"]).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", f"{rootfs}/bin/{a}")
    write(rootfs + "/etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\n"
          "app:x:1000:1000:app:/home/app:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    write(rootfs + "/etc/group", "root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n")
    mkdir(rootfs + "/root", 0o700)
    mkdir(rootfs + "/home")
    mkdir(rootfs + "/home/app", 0o750, 1000, 1000)
    low = rootfs + "/lower"
    mkdir(low)
    write(low + "/keep", "keep\n")
    write(low + "/gone", "gone\n")
    write(low + "/gonedir/sub/f", "f\n")
    write(low + "/redo/old", "old\n")
    write(low + "/f2d", "file\n")
    write(low + "/d2f/x", "x\n")
    write(low + "/replaced", "lower version\n", 0o600, 1000, 50)
    write(low + "/chmodme", "chmod\n", 0o644)
    write(low + "/xattr", "xattr\n")
    os.setxattr(low + "/xattr", "user.berth", b"base")
    write(low + "/hl1", "linked\n", 0o640, 0, 50)
    os.link(low + "/hl1", low + "/hl2")
    os.symlink("keep", low + "/link")


def tar_dir(src, out, compress=None):
    """Tars the contents of `src` (numeric owners, xattrs) to `out`; compress: gzip, xz."""
    argv = ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", src, "-cf", "-",
            "."]
    data = subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout
    if compress == "gzip":
        data = gzip.compress(data, mtime=0)
    elif compress == "xz":
        data = lzma.compress(data)
    with open(out, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------
# The cases. Each: a Dockerfile, a function filling the context, optionally buildah's equivalent
# Dockerfile (heredocs), build args, and the files whose content is not compared (with why).

def no_context(ctx):
    pass


def ctx_chown_chmod(ctx):
    write(ctx + "/f1", "one\n", 0o644, 1234, 1234)  # a context file's owner never reaches the image
    write(ctx + "/f2", "#!/bin/sh\necho two\n", 0o755)
    write(ctx + "/dir/a", "a\n", 0o600)
    write(ctx + "/dir/sub/b", "b\n", 0o664, 1234, 0)
    mkdir(ctx + "/dir/sub", 0o750)
    os.symlink("a", ctx + "/dir/alink")
    write(ctx + "/d750/in", "in\n")
    mkdir(ctx + "/d750", 0o750)


def ctx_add_tar(ctx):
    src = ctx + "/../tarsrc"
    mkdir(src, 0o750)  # the archive's "./" (root's): what extraction gives the destination
    write(src + "/top", "top\n", 0o640, 1234, 5678)
    write(src + "/d/inner", "inner\n", 0o755, 7, 8)
    mkdir(src + "/d", 0o711, 1234, 5678)
    mkdir(src + "/d/empty", 0o700)
    os.symlink("../top", src + "/d/up")
    os.link(src + "/top", src + "/d/hard")
    write(src + "/x.tar", "not a tar inside a tar\n")
    tar_dir(src, ctx + "/arch.tar")
    tar_dir(src, ctx + "/arch.tgz", "gzip")
    tar_dir(src, ctx + "/noext", "xz")  # an archive is known by its content, not its name
    write(ctx + "/plain.gz", gzip.compress(b"just compressed text\n", mtime=0))
    write(ctx + "/text.tar", "named like a tar, but text\n")
    shutil.rmtree(src)


def ctx_dockerignore(ctx):
    for p in ["a.txt", "a.log", "keep.log", "sub/b.log", "sub/c.txt", "sub/deep/d.log",
              "sub/deep/e.md", "docs/x.md", "docs/y/z.md", "docs/y/keep.md", "docs/y/t.txt",
              "build/out.o", "build/keep/k.o", "build/keep/more/m.o", "tmp/t", "sub/tmp/t2",
              "sub/tmpx", "notes.md", "deep/a/b/c/tmp/x", "sp ace.txt"]:
        write(f"{ctx}/{p}", p + "\n")
    write(ctx + "/.dockerignore",
          "# comments and blank lines are skipped\n\n"
          "**/*.log\n"
          "!keep.log\n"
          "!sub/deep/*.log\n"
          "build/**\n"
          "!build/keep\n"
          "build/keep/more\n"
          "docs/**/*.md\n"
          "!docs/y/keep.md\n"
          "**/tmp\n"
          "./notes.md\n"
          "/.dockerignore\n")


def ctx_heredocs_buildah(ctx):
    # The heredoc bodies berth gets inline, as context files for buildah.
    write(ctx + "/copied", "expanded world and 2\n")
    write(ctx + "/literal", "not $NAME ${N}\n")
    write(ctx + "/script.sh", "#!/bin/sh\necho hi\n", 0o644)


def ctx_deletions(ctx):
    write(ctx + "/newfile", "from the context\n", 0o640)
    write(ctx + "/tree/x", "x\n")


def ctx_hardlinks(ctx):
    write(ctx + "/hl/x", "x and y\n", 0o600)
    os.link(ctx + "/hl/x", ctx + "/hl/y")
    write(ctx + "/hl/sub/z", "z\n")
    os.link(ctx + "/hl/x", ctx + "/hl/sub/xx")


def ctx_flags_mounts(ctx):
    write(ctx + "/bound/in", "bound\n", 0o600)
    write(ctx + "/../secret.txt", "s3cret\n", 0o600)


def ctx_user_workdir(ctx):
    write(ctx + "/f", "f\n")


CASES = [
    {
        "name": "multistage",
        "context": no_context,
        "dockerfile": f"""\
FROM {BASE} AS builder
RUN mkdir -p /out/sub && echo built > /out/a && echo two > /out/sub/b && chmod 600 /out/sub/b \\
 && chown 1000:50 /out/a && ln -s a /out/link && mkdir -m 0700 /out/private \\
 && mkdir -m 0710 /out2 && chown 1000:1000 /out2 && echo x > /out2/x
FROM builder AS mid
RUN echo mid > /mid
FROM {BASE}
COPY --from=builder /out /copied/out
COPY --from=0 /out/sub/b /copied/single
COPY --from=mid /mid /out/a /copied/many/
COPY --from=builder --chown=app:staff /out/ /copied/chowned/
COPY --from=builder /out/link /copied/followed
COPY --from=mid /out/sub /copied/subdir
COPY --from={BASE} /etc/group /copied/group-from-image
COPY --from=builder /out/s* /copied/wild/
COPY --from=builder /out2 /copied/out2
CMD ["sh", "-c", "cat /copied/single"]
""",
    },
    {
        "name": "args",
        "context": no_context,
        "build_args": ["LOCAL=cli", "BA=fromcli", "GLOBAL=gcli"],
        "dockerfile": f"""\
ARG BASE={BASE}
ARG GLOBAL=g1
ARG UNUSED_GLOBAL=u
FROM ${{BASE}} AS one
ARG GLOBAL
ARG LOCAL=l1
ARG DFLT=d1
ENV FROMARG=${{LOCAL}}-x EMPTY=${{UNSET:-dflt}} PLUS=${{LOCAL:+set}} NOPLUS=${{UNSET:+set}}
ARG OVER=argval
ENV OVER=envval
ARG OVER=argagain
ENV QUOTED="a b" SINGLE='$LOCAL' ESC=\\$LOCAL
RUN echo "$GLOBAL|$LOCAL|$DFLT|$FROMARG|$EMPTY|$PLUS|$NOPLUS|$OVER|$BA|$UNUSED_GLOBAL" > /vars1
LABEL lbl=$LOCAL other="${{GLOBAL}}" dflt=${{DFLT}}
WORKDIR /w/$LOCAL
FROM ${{BASE}}
RUN echo "g=$GLOBAL l=$LOCAL" > /vars2
ARG BA
ENV BA=${{BA}} PATH=/opt/bin:$PATH
ARG LOCAL
RUN echo "ba=$BA l=$LOCAL" > /vars3
COPY --from=one /vars1 /vars1
""",
    },
    {
        "name": "chown_chmod",
        "context": ctx_chown_chmod,
        "dockerfile": f"""\
FROM {BASE}
COPY f1 /c/plain
COPY --chown=1000:1000 f1 /c/numeric
COPY --chown=app f1 /c/byname
COPY --chown=app:staff f1 /c/usergroup
COPY --chown=2000 f1 /c/numericonly
COPY --chown=nobody:50 dir /c/dir/
COPY --chmod=0640 f1 /c/mode640
COPY --chmod=755 dir /c/dirmode/
COPY --chown=app --chmod=600 f1 f2 /c/nested/new/
ADD --chown=1000:50 f2 /c/added
ADD --chmod=700 f1 /c/addmode
COPY dir/ /c/dircontents
COPY f2 /c/exists/
COPY d750 /c/d750-new
COPY d750 /c/d750-named/
COPY --chown=app d750 /c/d750-chown
COPY --chmod=700 d750/ /c/d750-chmod/
""",
    },
    {
        "name": "add_tar",
        "context": ctx_add_tar,
        "dockerfile": f"""\
FROM {BASE}
ADD arch.tar /x/plain/
ADD arch.tgz /x/gz
ADD noext /x/xz/
ADD plain.gz /x/
ADD text.tar /x/textfile
COPY arch.tar /x/copied.tar
RUN mkdir -p /x/merge && echo pre > /x/merge/top
ADD arch.tar /x/merge
ADD --chown=1000:50 arch.tgz /x/owned/new/
""",
        # An archive's entries keep their owners and its "./" entry sets the destination's
        # mode and owner, --chown or not: docker's extraction (moby's archive.Untar) and
        # buildah's. (BuildKit releases of 2025 map the entries to --chown's owner and skip
        # "./"; this compares with the long-standing behaviour.)
    },
    {
        "name": "dockerignore",
        "context": ctx_dockerignore,
        "dockerfile": f"""\
FROM {BASE}
COPY . /ctx/
COPY sub /sub-only
COPY *.txt /txt/
""",
    },
    {
        "name": "heredocs",
        "context": no_context,
        "dockerfile": f"""\
# syntax=docker/dockerfile:1
FROM {BASE}
ARG NAME=world
ENV N=2
RUN <<EOT
set -e
mkdir -p /h
echo "hello $NAME" > /h/run1
EOT
RUN <<EOT sh
echo second > /h/run2
EOT
RUN cat <<A > /h/one && cat <<-B > /h/two
first $NAME
A
	second
	B
COPY <<EOF /h/copied
expanded $NAME and $N
EOF
COPY <<'EOF' /h/literal
not $NAME ${{N}}
EOF
COPY --chmod=755 <<EOF /h/script.sh
#!/bin/sh
echo hi
EOF
RUN <<EOT
#!/bin/sh -e
echo shebang > /h/run3
EOT
""",
        "buildah_context": ctx_heredocs_buildah,
        "buildah_dockerfile": f"""\
FROM {BASE}
ARG NAME=world
ENV N=2
RUN set -e; mkdir -p /h; echo "hello $NAME" > /h/run1
RUN echo second > /h/run2
RUN echo "first $NAME" > /h/one && echo second > /h/two
COPY copied /h/copied
COPY literal /h/literal
COPY --chmod=755 script.sh /h/script.sh
RUN echo shebang > /h/run3
""",
    },
    {
        "name": "deletions",
        "context": ctx_deletions,
        "dockerfile": f"""\
FROM {BASE}
RUN rm /lower/gone && rm -rf /lower/gonedir
RUN rm -rf /lower/redo && mkdir -p /lower/redo/new && echo n > /lower/redo/new/f
RUN rm /lower/f2d && mkdir /lower/f2d && echo inside > /lower/f2d/inside
RUN rm -rf /lower/d2f && echo file > /lower/d2f
RUN rm /lower/link && ln -s gone /lower/link
RUN echo recreated > /lower/gone && mkdir /lower/made && echo m > /lower/made/m
RUN rm /lower/gone && rm -r /lower/made
RUN chmod 600 /lower/chmodme && chown 1000:50 /lower/keep && chmod 640 /lower/xattr
COPY newfile /lower/replaced
COPY tree /lower/redo/
RUN rm -rf /tmp /lower/hl2
""",
    },
    {
        "name": "hardlinks",
        "context": ctx_hardlinks,
        "dockerfile": f"""\
FROM {BASE}
RUN mkdir /hl && echo data > /hl/a && ln /hl/a /hl/b && ln /hl/a /hl/c && mkdir /hl/d \\
 && ln /hl/a /hl/d/e
RUN ln /lower/keep /hl/tolower
RUN rm /hl/b
COPY hl/ /ctxhl/
COPY hl/x hl/y /two/
""",
    },
    {
        "name": "user_workdir",
        "context": ctx_user_workdir,
        "dockerfile": f"""\
FROM {BASE}
WORKDIR /w1
RUN touch rootfile
USER app
WORKDIR /home/app/proj/sub
RUN touch mine && mkdir d && echo "$(id -u) $(id -g) $(id -un) $HOME" > /home/app/proj/sub/id
WORKDIR rel
COPY f ./f
COPY f relcopy
USER 1000:50
RUN touch bygroup && echo "$(id -u) $(id -g) $(id -gn)" > id2
USER root
ENV DIR=/envdir
WORKDIR $DIR/x
RUN pwd > /pwd
USER nobody
WORKDIR /nobodydir
USER app:staff
""",
    },
    {
        "name": "config",
        "context": no_context,
        "dockerfile": f"""\
FROM {BASE}
LABEL a=1 b="two words" c=
LABEL a=override
EXPOSE 80 443/udp 8080/tcp 7000-7002
VOLUME /data
VOLUME ["/logs", "/cache"]
VOLUME /data2 /data3
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \\
  CMD wget -q -O- http://localhost/ || exit 1
ONBUILD RUN echo onbuild > /tmp/onbuild
ONBUILD ENV FROMONBUILD=1
SHELL ["/bin/sh", "-ec"]
RUN echo shell > /shell
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo hi
ENV A=1 B="x y"
ENV A=2
MAINTAINER someone
USER nobody:nogroup
""",
        # buildah 1.28 (imagebuilder) ignores SHELL for CMD's shell form and keeps EXPOSE's
        # port ranges as written. docker documents both: SHELL "allows the default shell used
        # for the shell form of commands to be overridden" (RUN, CMD, ENTRYPOINT), and EXPOSE
        # ranges become one port each (BuildKit's nat.ParsePortSpecs). berth must give docker's.
        "known_config": {
            "Cmd": ["/bin/sh", "-ec", "echo hi"],
            "ExposedPorts": ["443/udp", "7000/tcp", "7001/tcp", "7002/tcp", "80/tcp",
                             "8080/tcp"],
        },
    },
    {
        # -f, --target, --label, --build-arg of an undeclared name; RUN --mount of each kind
        # with --secret (nothing of a mount may stay in the image).
        "name": "flags_mounts",
        "context": ctx_flags_mounts,
        "dockerfile_name": "build.Dockerfile",
        "flags": ["--target", "second", "--label", "from.cli=yes", "--label", "b=cli",
                  "--build-arg", "NOT_DECLARED=1", "--secret",
                  "id=tok,src={context}/../secret.txt"],
        "dockerfile": f"""\
FROM {BASE} AS first
RUN echo first > /first
FROM first AS second
LABEL b=file c=file
RUN --mount=type=bind,source=bound,target=/mnt/ctx cp -a /mnt/ctx/in /from-bind
RUN --mount=type=bind,from=first,source=/first,target=/mnt/first cp /mnt/first /from-stage
RUN --mount=type=cache,target=/var/cache/x echo c > /var/cache/x/c && ls /var/cache/x > /cached
RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && ls /scratch > /tmpfs-seen
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secret-size
RUN --mount=type=secret,id=tok,target=/etc/tok.txt cp /etc/tok.txt /tmp/ && rm /tmp/tok.txt
FROM second AS third
RUN echo never > /never
""",
    },
    {
        # FROM an image with ONBUILD triggers (the config case's): they run first, and the new
        # image keeps none.
        "name": "onbuild_child",
        "context": no_context,
        "dockerfile": """\
FROM localhost/bc/config
RUN echo child > /tmp/child
""",
        "known_config": {  # inherited from the config case's image (see there)
            "Cmd": ["/bin/sh", "-ec", "echo hi"],
            "ExposedPorts": ["443/udp", "7000/tcp", "7001/tcp", "7002/tcp", "80/tcp",
                             "8080/tcp"],
        },
    },
    {
        "name": "entrypoint_resets_cmd",
        "context": no_context,
        "dockerfile": f"""\
FROM {BASE} AS a
ENTRYPOINT ["/bin/echo"]
FROM {BASE} AS b
CMD ["kept"]
ENTRYPOINT /bin/echo shell form
HEALTHCHECK NONE
FROM b
ENTRYPOINT ["/bin/true"]
""",
    },
]


def heredocs_to_context(dockerfile, ctx):
    """buildah 1.28's equivalent of a Dockerfile whose COPY here-documents have quoted
    delimiters (no expansion): each body becomes a context file, copied with the same flags.
    Only what examples/ssh uses; anything else with `<<` is an error."""
    out, lines, i, n = [], dockerfile.split("\n"), 0, 0
    while i < len(lines):
        line = lines[i]
        words = line.split()
        if words and words[0].upper() == "COPY" and any(w.startswith("<<") for w in words):
            hd = [w for w in words if w.startswith("<<")]
            if len(hd) != 1 or hd[0][2] not in "'\"":
                raise Failure(f"heredocs_to_context: unsupported line: {line}")
            delim = hd[0][3:-1]
            body = []
            i += 1
            while lines[i] != delim:
                body.append(lines[i])
                i += 1
            n += 1
            name = f".heredoc-{n}"
            write(f"{ctx}/{name}", "\n".join(body) + "\n")
            out.append(" ".join(name if w == hd[0] else w for w in words))
        elif "<<" in line and not line.lstrip().startswith("#"):
            raise Failure(f"heredocs_to_context: unsupported line: {line}")
        else:
            out.append(line)
        i += 1
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Snapshots of unpacked trees, and their comparison.

def type_of(mode):
    for test, name in [(stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISSOCK, "socket")]:
        if test(mode):
            return name
    return "unknown"


def snapshot(root):
    """Every path under `root` ("/" for root itself) -> its metadata as a dict."""
    entries, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        names = ([""] if dirpath == root else []) + dirnames + filenames
        for name in names:
            full = os.path.join(dirpath, name) if name else dirpath
            rel = "/" + os.path.relpath(full, root) if full != root else "/"
            st = os.lstat(full)
            e = {"type": type_of(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)),
                 "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISREG(st.st_mode):
                e["size"] = st.st_size
                h = hashlib.sha256()
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                e["sha256"] = h.hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                e["target"] = os.readlink(full)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                e["rdev"] = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
            xattrs = {}
            for x in os.listxattr(full, follow_symlinks=False):
                xattrs[x] = os.getxattr(full, x, follow_symlinks=False).hex()
            if xattrs:
                e["xattrs"] = xattrs
            entries[rel] = e
    for paths in inodes.values():
        for p in paths:
            others = sorted(q for q in paths if q != p)
            if others:
                entries[p]["hardlinks"] = others
    return entries


def mount_stub_candidates(dockerfile):
    """The paths buildah may leave as mount points: its RUN stubs, and each RUN --mount target
    (a secret's default /run/secrets/ID) with its ancestors."""
    out = set(BUILDAH_RUN_STUBS)
    for m in re.finditer(r"--mount=(\S+)", dockerfile):
        opts = dict(kv.split("=", 1) for kv in m.group(1).split(",") if "=" in kv)
        target = opts.get("target") or opts.get("dst") or opts.get("destination")
        if not target and opts.get("type") == "secret":
            target = "/run/secrets/" + opts.get("id", "")
        while target and target != "/":
            out.add(target)
            target = os.path.dirname(target)
    return out


def buildah_stubs(berth, buildah, base, candidates):
    """The paths only buildah has that are mount points it left behind: candidates the base did
    not have, each an empty file or a directory holding only such stubs (deepest first)."""
    stubs = set()
    for path in sorted(buildah, key=lambda p: -p.count("/")):
        k = buildah[path]
        if path in berth or path in base or path not in candidates:
            continue
        children = [p for p in buildah if p.startswith(path + "/")]
        if (k["type"] == "dir" and all(c in stubs for c in children)) or (
                k["type"] == "file" and k["size"] == 0):
            stubs.add(path)
    return stubs


def compare_trees(berth, buildah, base, ignore_content, candidates):
    """Differences between the two snapshots, as lines; the allowed ones are left out."""
    diffs = []
    stubs = buildah_stubs(berth, buildah, base, candidates)
    for path in sorted(set(berth) | set(buildah)):
        b, k = berth.get(path), buildah.get(path)
        if b is None:
            if path in stubs:  # buildah's committed mount points (see the docstring)
                continue
            diffs.append(f"  only buildah: {path} {k}")
            continue
        if k is None:
            diffs.append(f"  only berth:   {path} {b}")
            continue
        for field in sorted(set(b) | set(k)):
            if field in ("sha256", "size") and path in ignore_content:
                continue
            if b.get(field) != k.get(field):
                diffs.append(f"  {path}: {field}: berth {b.get(field)!r} != buildah "
                             f"{k.get(field)!r}")
    return diffs


def normalize_config(cfg, who):
    """The compared fields of an image config's `config`, absent/null/empty made one value."""
    out = {}
    for field in CONFIG_FIELDS:
        v = cfg.get(field)
        if field == "Labels" and v and who == "buildah":
            v = {k: x for k, x in v.items() if k != "io.buildah.version"}
        if field == "Healthcheck" and v:
            v = {k: x for k, x in v.items() if x not in (0, None)}
        if field in ("ExposedPorts", "Volumes") and v:
            v = sorted(v)
        if v in (None, [], {}, ""):
            v = None
        out[field] = v
    return out


def compare_configs(berth, buildah, known):
    """`known`: field -> the value berth must have where buildah is known to differ."""
    diffs = []
    for field in CONFIG_FIELDS:
        if field in known:
            if berth[field] != known[field]:
                diffs.append(f"  config {field}: berth {json.dumps(berth[field])} != docker's "
                             f"{json.dumps(known[field])} (buildah: {json.dumps(buildah[field])})")
            continue
        if berth[field] != buildah[field]:
            diffs.append(f"  config {field}: berth {json.dumps(berth[field])} != buildah "
                         f"{json.dumps(buildah[field])}")
    return diffs


# ---------------------------------------------------------------------------------------------
# The two builders.

class Env:
    def __init__(self, berth_bin, work):
        self.work = work
        self.berth = [berth_bin, "--root", work + "/berth-root"]
        conf = work + "/containers"
        os.makedirs(conf)
        with open(conf + "/containers.conf", "w") as f:
            f.write('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n')
        with open(conf + "/storage.conf", "w") as f:
            f.write(f'[storage]\ndriver = "{DRIVER}"\ngraphroot = "{work}/buildah-root"\n'
                    f'runroot = "{work}/buildah-runroot"\n')
        with open(conf + "/registries.conf", "w") as f:
            f.write("unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n")
        self.env = dict(os.environ, CONTAINERS_CONF=conf + "/containers.conf",
                        CONTAINERS_STORAGE_CONF=conf + "/storage.conf",
                        CONTAINERS_REGISTRIES_CONF=conf + "/registries.conf",
                        TMPDIR=work + "/tmp")
        # berth build must not pick up a SOURCE_DATE_EPOCH from the caller's environment here.
        self.env.pop("SOURCE_DATE_EPOCH", None)
        os.makedirs(work + "/tmp")
        self.buildah = ["buildah", "--root", work + "/buildah-root", "--runroot",
                        work + "/buildah-runroot", "--storage-driver", DRIVER]

    def berth_run(self, *args, check=True):
        return run(self.berth + list(args), env=self.env, check=check)

    def buildah_run(self, *args, check=True):
        return run(self.buildah + list(args), env=self.env, check=check)

    def share_image(self, ref, name):
        """Copies berth's image `ref` into buildah's storage, as it is (layers and config)."""
        archive = f"{self.work}/{name}-oci.tar"
        self.berth_run("save", "--format", "oci-archive", "-o", archive, ref)
        run(["skopeo", "copy", "--quiet", f"oci-archive:{archive}",
             f"containers-storage:{ref}"], env=self.env)
        os.unlink(archive)

    def export_berth(self, ref, out):
        """berth's image as an OCI layout at `out`; returns its config JSON."""
        archive = out + ".tar"
        self.berth_run("save", "--format", "oci-archive", "-o", archive, ref)
        os.makedirs(out)
        with tarfile.open(archive) as t:
            t.extractall(out)
        os.unlink(archive)
        return layout_config(out)

    def export_buildah(self, ref, out):
        """buildah's image as an OCI layout at `out`; returns its docker-format config."""
        self.buildah_run("push", "--quiet", "--disable-compression", ref, f"oci:{out}:img")
        tag_layout(out)
        info = json.loads(self.buildah_run("inspect", "--type", "image", ref).stdout)
        return info["Docker"]


def layout_manifest(layout):
    with open(layout + "/index.json") as f:
        index = json.load(f)
    if len(index["manifests"]) != 1:
        raise Failure(f"{layout}: expected one manifest, found {len(index['manifests'])}")
    desc = index["manifests"][0]
    with open(layout + "/blobs/sha256/" + desc["digest"].split(":")[1]) as f:
        return index, json.load(f)


def layout_config(layout):
    _, manifest = layout_manifest(layout)
    with open(layout + "/blobs/sha256/" + manifest["config"]["digest"].split(":")[1]) as f:
        return json.load(f)


def tag_layout(layout):
    """Names the layout's only manifest "img" (umoci selects by that annotation)."""
    index, _ = layout_manifest(layout)
    ann = index["manifests"][0].setdefault("annotations", {})
    if ann.get("org.opencontainers.image.ref.name") != "img":
        ann["org.opencontainers.image.ref.name"] = "img"
        with open(layout + "/index.json", "w") as f:
            json.dump(index, f)


def unpack(layout, out):
    tag_layout(layout)
    run(["umoci", "raw", "unpack", "--image", f"{layout}:img", out])
    return snapshot(out)


# ---------------------------------------------------------------------------------------------

def run_case(env, case, base_paths):
    name = case["name"]
    d = f"{env.work}/cases/{name}"
    ctx = d + "/context"
    mkdir(ctx)
    case["context"](ctx)
    dockerfile = case["dockerfile"]
    dfname = case.get("dockerfile_name", "Dockerfile")
    write(ctx + "/" + dfname, dockerfile)
    bctx = ctx
    if "buildah_dockerfile" in case or case.get("translate_heredocs"):
        bctx = d + "/buildah-context"
        shutil.copytree(ctx, bctx, symlinks=True)
        if "buildah_context" in case:
            case["buildah_context"](bctx)
        bdf = case.get("buildah_dockerfile") or heredocs_to_context(dockerfile, bctx)
        write(bctx + "/" + dfname, bdf)
    ref = f"localhost/bc/{name}:latest"
    args = []
    for a in case.get("build_args", []):
        args += ["--build-arg", a]
    args += [f.replace("{context}", ctx) for f in case.get("flags", [])]

    t0 = time.monotonic()
    env.berth_run("build", "-q", "--no-cache", *args, "-f", f"{ctx}/{dfname}", "-t", ref, ctx)
    t1 = time.monotonic()
    env.buildah_run("bud", "--quiet", "--format", "docker", "--pull=never", "--network", "host",
                    "--isolation", "oci", "--no-cache", *args, "-f", f"{bctx}/{dfname}", "-t",
                    ref, bctx)
    t2 = time.monotonic()

    tt = [time.monotonic()]
    berth_cfg = env.export_berth(ref, d + "/berth-oci")
    tt.append(time.monotonic())
    buildah_cfg = env.export_buildah(ref, d + "/buildah-oci")
    tt.append(time.monotonic())
    berth_tree = unpack(d + "/berth-oci", d + "/berth-rootfs")
    tt.append(time.monotonic())
    buildah_tree = unpack(d + "/buildah-oci", d + "/buildah-rootfs")
    tt.append(time.monotonic())
    if os.environ.get("BERTH_BUILDAH_VERBOSE"):
        log(f"{name}: phases {[round(b - a, 1) for a, b in zip(tt, tt[1:])]}")
    t3 = time.monotonic()
    diffs = compare_trees(berth_tree, buildah_tree, base_paths,
                          set(case.get("ignore_content", {})),
                          mount_stub_candidates(dockerfile))
    diffs += compare_configs(normalize_config(berth_cfg.get("config") or {}, "berth"),
                             normalize_config(buildah_cfg.get("config") or {}, "buildah"),
                             case.get("known_config", {}))
    if not os.environ.get("BERTH_BUILDAH_KEEP"):
        for sub in ("berth-rootfs", "buildah-rootfs", "berth-oci", "buildah-oci"):
            shutil.rmtree(f"{d}/{sub}", ignore_errors=True)
    log(f"{name}: {len(berth_tree)} paths; berth build {t1 - t0:.1f}s, buildah bud "
        f"{t2 - t1:.1f}s, export and unpack {t3 - t2:.1f}s: "
        f"{'MATCH' if not diffs else f'{len(diffs)} DIFFERENCES'}")
    for line in diffs:
        log(line)
    return not diffs


def ssh_case():
    """examples/ssh on the project's Debian base, when the example exists (last)."""
    path = os.path.join(REPO, "examples/ssh/Dockerfile")
    if not os.path.exists(path) or os.environ.get("BERTH_BUILDAH_SSH") == "0":
        return None
    with open(path) as f:
        dockerfile = f.read()
    src = os.path.dirname(path)

    def context(ctx):
        for n in os.listdir(src):
            if n != "Dockerfile":
                p = os.path.join(src, n)
                (shutil.copytree if os.path.isdir(p) else shutil.copy2)(p, os.path.join(ctx, n))

    return {
        "name": "ssh",
        "context": context,
        "dockerfile": dockerfile,
        "translate_heredocs": True,
        "debian": True,
        # Written by the package tools with the time of the build (logs; ldconfig's cache of
        # inodes and mtimes), so their content differs between any two builds, docker's
        # included. Their type, mode and owner are still compared.
        "ignore_content": {
            "/var/log/dpkg.log", "/var/log/apt/history.log", "/var/log/apt/term.log",
            "/var/log/apt/eipp.log.xz", "/var/cache/ldconfig/aux-cache",
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("berth")
    ap.add_argument("--case", action="append", help="run only these cases")
    ap.add_argument("--set", choices=["busybox", "ssh", "all"], default="all",
                    help="the busybox-static cases, examples/ssh, or both (default)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    opts = ap.parse_args()
    if os.geteuid() != 0:
        log("SKIP: needs root")
        return SKIP
    for tool in ("buildah", "skopeo", "umoci", "runc", "tar"):
        if not shutil.which(tool):
            log(f"SKIP: {tool} missing (scripts/deps.sh installs it)")
            return 1 if os.environ.get("CI") == "true" else SKIP
    if not os.path.exists("/bin/busybox"):
        log("SKIP: /bin/busybox missing (busybox-static)")
        return 1 if os.environ.get("CI") == "true" else SKIP
    if opts.keep:
        os.environ["BERTH_BUILDAH_KEEP"] = "1"

    cases = list(CASES) if opts.set != "ssh" else []
    if opts.set != "busybox":
        ssh = ssh_case()
        if ssh:
            cases.append(ssh)
        elif opts.set == "ssh":
            log("SKIP: examples/ssh/Dockerfile is missing (or BERTH_BUILDAH_SSH=0)")
            return SKIP
    if opts.case:
        unknown = set(opts.case) - {c["name"] for c in cases}
        if unknown:
            log(f"unknown cases: {', '.join(sorted(unknown))}")
            return 2
        cases = [c for c in cases if c["name"] in opts.case]

    start = time.monotonic()
    work = tempfile.mkdtemp(prefix="berth-buildah-", dir="/var/tmp")
    ok = True
    ran = 0
    env = None
    try:
        env = Env(opts.berth, work)
        base_paths = None
        if any(not c.get("debian") for c in cases):
            rootfs = work + "/base-rootfs"
            mkdir(rootfs)
            make_base(rootfs)
            tar_dir(rootfs, work + "/base.tar")
            shutil.rmtree(rootfs)
            env.berth_run("import", "-c", 'CMD ["sh"]', work + "/base.tar", BASE)
            env.share_image(BASE, "base")
            base_paths = tar_paths(work + "/base.tar")
            log(f"base: made, imported and shared in {time.monotonic() - start:.1f}s")
        for case in cases:
            if case.get("debian"):
                t0 = time.monotonic()
                base_paths = prepare_debian(env)
                if base_paths is None:
                    continue
                log(f"debian base: made, imported and shared in {time.monotonic() - t0:.1f}s")
            ran += 1
            try:
                ok = run_case(env, case, base_paths) and ok
            except Failure as e:
                log(f"{case['name']}: FAILED\n{e}")
                ok = False
    except Failure as e:
        log(f"FAILED\n{e}")
        ok = False
    finally:
        t0 = time.monotonic()
        cleanup(env, work, opts.keep)
        log(f"cleaned up in {time.monotonic() - t0:.1f}s; {time.monotonic() - start:.1f}s in all")
    if ok and ran == 0:
        log("SKIP: no case could run")
        return SKIP
    log("all cases match" if ok else "DIFFERENCES (above)")
    return 0 if ok else 1


def tar_paths(tar):
    """The paths a base image's tarball holds, as snapshot() names them."""
    paths = set()
    with tarfile.open(tar) as t:
        for m in t.getmembers():
            p = os.path.normpath(m.name)  # "./a/b/" -> "a/b", "./" -> "."
            paths.add("/" if p == "." else "/" + p.lstrip("/"))
    return paths


def mirror_reachable():
    try:
        with urllib.request.urlopen(
                "http://deb.debian.org/debian/dists/bookworm/Release", timeout=10) as r:
            return r.status == 200
    except (OSError, ValueError):
        return False


def prepare_debian(env):
    """The Debian base (scripts/debian-base.sh) in both stores; its paths, or None to skip."""
    if not mirror_reachable():
        log("ssh: SKIPPED: the Debian mirror is unreachable (the build installs from it)")
        return None
    p = run([os.path.join(REPO, "scripts/debian-base.sh")], check=False)
    if p.returncode != 0:
        log(f"ssh: SKIPPED: scripts/debian-base.sh failed:\n{p.stdout[-2000:]}")
        if os.environ.get("CI") == "true":
            raise Failure("scripts/debian-base.sh failed under CI")
        return None
    tar = p.stdout.strip().splitlines()[-1]
    ref = "localhost/berth/debian:bookworm"
    env.berth_run("import", "-c", 'CMD ["bash"]', tar, ref)
    env.share_image(ref, "debian")
    return tar_paths(tar)


def cleanup(env, work, keep):
    if env is not None:
        env.buildah_run("rm", "--all", check=False)  # no working container should be left
    # c/storage's overlay driver bind-mounts its home on itself and leaves it so; nothing else
    # should be mounted under the work directory (unmounted anyway, deepest first).
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    for m in sorted((m for m in mounts if m.startswith(work + "/")), key=len, reverse=True):
        if m != f"{work}/buildah-root/{DRIVER}":
            log(f"warning: {m} was left mounted")
        run(["umount", m], check=False)
    if keep:
        log(f"kept {work}")
    else:
        run(["rm", "-rf", "--one-file-system", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
