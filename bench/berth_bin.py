"""Which berth binary the benchmarks run: $BERTH, or build/berth. Figures from a Debug build mean
nothing (it is several times slower), so the build type next to the binary is checked."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def berth_binary():
    path = os.environ.get("BERTH", os.path.join(HERE, "..", "build", "berth"))
    cache = os.path.join(os.path.dirname(os.path.realpath(path)), "CMakeCache.txt")
    try:
        m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", open(cache).read(), re.M)
    except OSError:
        m = None
    build_type = m.group(1) if m else "unknown"
    if build_type not in ("Release", "RelWithDebInfo", "MinSizeRel"):
        print(f"warning: {path} is a {build_type} build; quote figures from an optimized one "
              "(BUILD_TYPE=RelWithDebInfo scripts/build.sh)", file=sys.stderr)
    return path
