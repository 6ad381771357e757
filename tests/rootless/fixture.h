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
    std::string root_berth = std::string(BERTH_BIN) + " --root " + dir_ + "/rootstore";
    ASSERT_TRUE(Shell(ImportBusyboxImage(dir_ + "/img", root_berth, "bb:1") + " >/dev/null && " + root_berth +
                      " save -o " + dir_ + "/bb.tar bb:1 && skopeo copy -q --dest-tls-verify=false "
                      "docker-archive:" + dir_ + "/bb.tar docker://" + registry_->domain() + "/bb:1"));
    ref_ = registry_->domain() + "/bb:1";
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
