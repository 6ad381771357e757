#!/usr/bin/env python3
"""Writes the seed tars of fuzz_tar_apply into fuzz/corpus/fuzz_tar_apply/: ordinary layers and
the hostile shapes the applier must refuse (.., absolute and climbing symlinks, hard links out,
entries under symlinks, whiteouts, devices). Each file is one mode byte and a tar with its
trailing zero blocks cut (the applier must cope with a missing end-of-archive marker too)."""
import io
import os
import tarfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_tar_apply")


def entry(tf, name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644, **kw):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = 1700000000
    ti.linkname = linkname
    for k, v in kw.items():
        setattr(ti, k, v)
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


SEEDS = {
    "plain": [("etc/", tarfile.DIRTYPE), ("etc/hosts", tarfile.REGTYPE, b"127.0.0.1 x\n"),
              ("bin/", tarfile.DIRTYPE), ("bin/sh", tarfile.SYMTYPE, b"", "busybox"),
              ("bin/busybox", tarfile.REGTYPE, b"\x7fELF"), ("bin/ls", tarfile.LNKTYPE, b"", "bin/busybox")],
    "dotdot": [("../escape", tarfile.REGTYPE, b"x"), ("a/../../b", tarfile.REGTYPE, b"y")],
    "absolute": [("/etc/passwd", tarfile.REGTYPE, b"root::0:0::/:/bin/sh\n")],
    "symlink_out": [("link", tarfile.SYMTYPE, b"", "/"), ("link/etc/x", tarfile.REGTYPE, b"x")],
    "symlink_climb": [("d/", tarfile.DIRTYPE), ("d/up", tarfile.SYMTYPE, b"", "../../.."),
                      ("d/up/sentinel", tarfile.REGTYPE, b"owned")],
    "hardlink_out": [("h", tarfile.LNKTYPE, b"", "../sentinel"), ("h2", tarfile.LNKTYPE, b"", "/etc/shadow")],
    "whiteouts": [("a/", tarfile.DIRTYPE), ("a/.wh..wh..opq", tarfile.REGTYPE),
                  ("a/.wh.gone", tarfile.REGTYPE), (".wh...", tarfile.REGTYPE)],
    "devices": [("dev/null", tarfile.CHRTYPE), ("dev/sda", tarfile.BLKTYPE), ("fifo", tarfile.FIFOTYPE)],
    "replace": [("x", tarfile.DIRTYPE), ("x", tarfile.SYMTYPE, b"", "/tmp"), ("x/y", tarfile.REGTYPE, b"y")],
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, entries in SEEDS.items():
        for mode_byte, fmt in ((0, tarfile.USTAR_FORMAT), (1, tarfile.PAX_FORMAT)):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
                for e in entries:
                    nm, kind = e[0], e[1]
                    data = e[2] if len(e) > 2 else b""
                    link = e[3] if len(e) > 3 else ""
                    entry(tf, nm.rstrip("/") if kind == tarfile.DIRTYPE else nm, kind, data, link,
                          mode=0o755 if kind == tarfile.DIRTYPE else 0o644)
            raw = buf.getvalue().rstrip(b"\0")
            raw += b"\0" * (-len(raw) % 512)
            with open(os.path.join(OUT, f"{name}_{mode_byte}.tar"), "wb") as f:
                f.write(bytes([mode_byte]) + raw)


if __name__ == "__main__":
    main()
