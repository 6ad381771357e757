// What the rootless tests share: root makes a registry holding a busybox image (pushed there by
// skopeo) and a home directory per user; berth then runs as those users through setpriv, with a
// clean environment (HOME and PATH only), in a session of its own.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "base/fs.h"
#include "store/testing/registry_fixture.h"
#include "../engine/busybox_rootfs.h"

namespace berth::testing {

class RootlessFixture : public ::testing::Test {
 protected:
  // A temporary directory (named after `prefix`) with home<uid> for each of `uids`, a registry,
  // and the busybox image in it as ref_.
  void SetUpHomesAndRegistry(const std::string& prefix, const std::vector<std::string>& uids) {
    ASSERT_EQ(::geteuid(), 0) << "root makes the users' homes and the registry";
    ASSERT_TRUE(HaveRegistryTools()) << "docker-registry and skopeo";
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
    for (const std::string& u : uids)
      ASSERT_TRUE(Shell("mkdir -p " + dir_ + "/home" + u + " && chown " + u + ":" + u + " " + dir_ + "/home" + u));
    ASSERT_TRUE(fs::MkdirAll(dir_ + "/registry"));
    registry_ = std::make_unique<RealRegistry>(dir_ + "/registry", false);
    ASSERT_TRUE(registry_->up());
    ref_ = PushBusyboxImage("bb:1", "true");
    ASSERT_FALSE(ref_.empty());
  }

  // Root imports a busybox rootfs, changed by the shell command `tweak` (run in the rootfs),
  // as `image`, and skopeo pushes it to the registry: its reference there, "" on failure.
  std::string PushBusyboxImage(const std::string& image, const std::string& tweak) {
    std::string root_berth = std::string(BERTH_BIN) + " --root " + dir_ + "/rootstore";
    std::string dir = dir_ + "/img-" + image.substr(0, image.find(':'));
    std::string rootfs = dir + "/rootfs";
    std::string archive = dir + "/image.tar";
    bool ok = Shell(MakeBusyboxRootfs(rootfs) + " && (cd " + rootfs + " && " + tweak + ") && tar -C " + rootfs +
                    " -cf " + dir + "/rootfs.tar . && " + root_berth + " import " + dir + "/rootfs.tar " + image +
                    " >/dev/null && " + root_berth + " save -o " + archive + " " + image +
                    " && skopeo copy -q --dest-tls-verify=false docker-archive:" + archive + " docker://" +
                    registry_->domain() + "/" + image);
    return ok ? registry_->domain() + "/" + image : "";
  }

  // berth as `uid`.
  std::string As(const std::string& uid, const std::string& args, int* rc = nullptr) {
    return Capture(AsUser(uid, std::string(BERTH_BIN) + " " + args) + " 2>&1", rc);
  }
  // A command line that runs `cmd` as `uid`.
  std::string AsUser(const std::string& uid, const std::string& cmd) {
    return "cd / && setsid -w setpriv --reuid=" + uid + " --regid=" + uid + " --clear-groups env -i HOME=" + dir_ +
           "/home" + uid + " PATH=/usr/bin:/bin " + cmd;
  }

  std::string dir_, ref_;
  std::unique_ptr<RealRegistry> registry_;
};

}  // namespace berth::testing
