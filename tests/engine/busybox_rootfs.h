// The busybox-static root filesystem the engine's end-to-end tests import as their image.
#pragma once

#include <string>

namespace berth::testing {

// A shell command that makes a busybox-static rootfs at `rootfs`: /bin with busybox and its
// applets, /etc/passwd (root, nobody), /etc/group (root) and a 1777 /tmp.
inline std::string MakeBusyboxRootfs(const std::string& rootfs) {
  return "mkdir -p " + rootfs + "/bin " + rootfs + "/etc " + rootfs + "/tmp && cp /bin/busybox " +
         rootfs + "/bin/busybox && for a in $(/bin/busybox --list); do [ \"$a\" = busybox ] || " +
         "ln -s busybox " + rootfs + "/bin/$a; done && " +
         "echo 'root:x:0:0:root:/root:/bin/sh' > " + rootfs + "/etc/passwd && " +
         "echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >> " + rootfs +
         "/etc/passwd && echo 'root:x:0:' > " + rootfs + "/etc/group && chmod 1777 " + rootfs +
         "/tmp";
}

// A shell command that makes the busybox rootfs under `dir`, tars it and imports it with
// `berth` (the command line up to the subcommand) as `image`, with `import_flags` appended.
inline std::string ImportBusyboxImage(const std::string& dir, const std::string& berth,
                                      const std::string& image,
                                      const std::string& import_flags = "") {
  std::string rootfs = dir + "/rootfs";
  return MakeBusyboxRootfs(rootfs) + " && tar -C " + rootfs + " -cf " + dir + "/rootfs.tar . && " +
         berth + " import " + dir + "/rootfs.tar " + image + " " + import_flags;
}

// A shell command that force-removes every container (and its anonymous volumes) under
// `berth`'s root: the end of a test suite.
inline std::string RemoveAllContainers(const std::string& berth) {
  return berth + " ps -aq --no-trunc | xargs -r " + berth + " rm -fv";
}

}  // namespace berth::testing
