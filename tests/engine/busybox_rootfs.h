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

}  // namespace berth::testing
