// `berth pull` (the built binary) against a real docker-registry filled by skopeo, compared file
// by file with what `umoci unpack` makes of the same image; fault injection (SIGKILL mid-pull, a
// corrupted blob in the registry's storage, a missing image); two pulls at once. The layers hold
// whiteouts, opaque directories, hard links, symlinks, setuid/setgid files, user xattrs, file
// capabilities (security.capability), a fifo and device nodes.
// Needs root (owners, setuid bits, overlay mounts), docker-registry, skopeo, umoci, tar and gzip;
// skips without them.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "store/store.h"
#include "store/testing/registry_fixture.h"

namespace berth::store {
namespace {

using berth::testing::Capture;
using berth::testing::RealRegistry;
using berth::testing::Shell;

// ---- Building the test image's layers as directories, then tars.

void Put(const std::string& path, const std::string& data, mode_t mode, uid_t uid = 0,
         gid_t gid = 0) {
  ASSERT_TRUE(fs::MkdirAll(path.substr(0, path.rfind('/'))));
  ASSERT_TRUE(fs::WriteFileAtomic(path, data));
  ASSERT_EQ(::lchown(path.c_str(), uid, gid), 0) << path;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;  // after chown, which clears setuid
}
void Dir(const std::string& path, mode_t mode, uid_t uid = 0, gid_t gid = 0) {
  ASSERT_TRUE(fs::MkdirAll(path));
  ASSERT_EQ(::lchown(path.c_str(), uid, gid), 0) << path;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}
void Link(const std::string& target, const std::string& path) {
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0) << path;
}
void Hard(const std::string& from, const std::string& to) {
  ASSERT_EQ(::link(from.c_str(), to.c_str()), 0) << to;
}
void Xattr(const std::string& path, const std::string& name, const std::string& value) {
  ASSERT_EQ(::lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0), 0) << path;
}
// A whiteout as it appears in a layer tar: an empty file named .wh.NAME.
void Whiteout(const std::string& dir, const std::string& name) {
  ASSERT_TRUE(fs::MkdirAll(dir));
  ASSERT_TRUE(fs::WriteFileAtomic(dir + "/.wh." + name, ""));
}

std::string Pseudo(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1103515245 + 12345;
    s[i] = static_cast<char>(seed >> 16);
  }
  return s;
}

void MakeLayers(const std::string& d) {
  std::string l0 = d + "/l0", l1 = d + "/l1", l2 = d + "/l2";
  Dir(l0, 0755);
  Dir(l0 + "/etc", 0755);
  Put(l0 + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
  Put(l0 + "/bin/tool", Pseudo(200000, 1), 0755);
  Put(l0 + "/bin/suid", "#!/bin/sh\n", 04755);
  Put(l0 + "/bin/sgid", "#!/bin/sh\n", 02755, 0, 50);
  Dir(l0 + "/home/user", 0700, 1000, 1000);
  Put(l0 + "/home/user/secret", "s", 0600, 1000, 1000);
  Put(l0 + "/data/hard1", "shared by two names\n", 0644);
  Hard(l0 + "/data/hard1", l0 + "/data/hard2");
  Dir(l0 + "/links", 0755);
  Link("../etc/passwd", l0 + "/links/rel");
  Link("/etc/passwd", l0 + "/links/abs");
  Link("/nowhere", l0 + "/links/dangling");
  Put(l0 + "/xattr/file", "x", 0644);
  Xattr(l0 + "/xattr/file", "user.berth", "hello");
  // File capabilities (cap_net_bind_service=ep, VFS_CAP_REVISION_2), set after chown/chmod,
  // which clear them.
  Put(l0 + "/bin/ping", "#!/bin/sh\n", 0755);
  const unsigned char cap[20] = {0x01, 0, 0, 0x02, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Xattr(l0 + "/bin/ping", "security.capability",
        std::string(reinterpret_cast<const char*>(cap), sizeof cap));
  Dir(l0 + "/dev", 0755);
  ASSERT_EQ(::mknod((l0 + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::mknod((l0 + "/dev/loop0").c_str(), S_IFBLK | 0660, makedev(7, 0)), 0);
  Put(l0 + "/gone/inside", "i", 0644);
  Put(l0 + "/gone-file", "g", 0644);
  Put(l0 + "/opq/a", "a", 0644);
  Put(l0 + "/opq/sub/b", "b", 0644);
  Dir(l0 + "/tmp", 01777);
  Dir(l0 + "/empty", 0755);
  ASSERT_EQ(::mkfifo((l0 + "/fifo").c_str(), 0640), 0);

  Dir(l1, 0755);
  Whiteout(l1, "gone-file");
  Whiteout(l1, "gone");
  Put(l1 + "/opq/.wh..wh..opq", "", 0644);
  Put(l1 + "/opq/c", "c", 0600);
  Put(l1 + "/etc/passwd", "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
      0644);
  Put(l1 + "/etc/shadow", "root:*::0:::::\n", 0640, 0, 42);
  Put(l1 + "/data/h3a", "linked in layer 1\n", 0444);
  Hard(l1 + "/data/h3a", l1 + "/data/h3b");
  Dir(l1 + "/bin", 0755);
  Link("tool2", l1 + "/bin/tool");
  Put(l1 + "/bin/tool2", Pseudo(50000, 2), 0755);

  Dir(l2, 0755);
  Whiteout(l2 + "/links", "abs");
  Put(l2 + "/empty/.wh..wh..opq", "", 0644);
  Put(l2 + "/xattr/file2", "y", 0644);
  Xattr(l2 + "/xattr/file2", "user.other", std::string("bin\0ary", 7));
  Put(l2 + "/spaced name \xc3\xbc", "unicode", 0644);
  Dir(l2 + "/home/user", 0750, 1000, 1000);
}

std::string TarCmd(const std::string& dir, const std::string& out) {
  return "tar --numeric-owner --xattrs --xattrs-include='user.*' "
         "--xattrs-include='security.capability' --sort=name -C " + dir + " -cf " +
         out + " .";
}

// ---- Comparing two trees.

struct Entry {
  std::string type;  // "f", "d", "l", "p", "c", "b"
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  off_t size = 0;
  std::string hash;    // regular files
  std::string target;  // symlinks
  dev_t rdev = 0;
  time_t mtime = 0;  // regular files
  std::map<std::string, std::string> xattrs;
  ino_t ino = 0;
  nlink_t nlink = 0;
  bool operator==(const Entry& o) const {
    return type == o.type && mode == o.mode && uid == o.uid && gid == o.gid && size == o.size &&
           hash == o.hash && target == o.target && rdev == o.rdev && mtime == o.mtime &&
           xattrs == o.xattrs;
  }
};

std::string Describe(const Entry& e) {
  std::string x;
  for (const auto& [k, v] : e.xattrs) x += " " + k + "=" + v;
  return fmt::format("{} {:o} {}:{} size={} {} ->{} rdev={} mtime={}{}", e.type, e.mode, e.uid,
                     e.gid, e.size, e.hash.substr(0, 12), e.target, e.rdev, e.mtime, x);
}

void Walk(const std::string& root, const std::string& rel, std::map<std::string, Entry>& out) {
  std::string path = rel.empty() ? root : root + "/" + rel;
  struct stat st;
  ASSERT_EQ(::lstat(path.c_str(), &st), 0) << path;
  Entry e;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.ino = st.st_ino;
  e.nlink = st.st_nlink;
  if (S_ISREG(st.st_mode)) {
    e.type = "f";
    e.size = st.st_size;
    e.mtime = st.st_mtime;
    auto data = fs::ReadFile(path);
    ASSERT_TRUE(data) << path;
    e.hash = oci::Sha256Of(*data).hex;
  } else if (S_ISDIR(st.st_mode)) {
    e.type = "d";
  } else if (S_ISLNK(st.st_mode)) {
    e.type = "l";
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    ASSERT_GE(n, 0);
    e.target.assign(buf, n);
  } else if (S_ISFIFO(st.st_mode)) {
    e.type = "p";
  } else {
    e.type = S_ISCHR(st.st_mode) ? "c" : "b";
    e.rdev = st.st_rdev;
  }
  char names[4096];
  ssize_t len = ::llistxattr(path.c_str(), names, sizeof names);
  for (ssize_t i = 0; len > 0 && i < len;) {
    std::string name(names + i);
    i += name.size() + 1;
    if (str::StartsWith(name, "trusted.overlay.") || name == "security.selinux") continue;
    char value[4096];
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
    e.xattrs[name] = vn >= 0 ? std::string(value, vn) : "?";
  }
  out[rel.empty() ? "." : rel] = e;
  if (e.type == "d") {
    auto names_in = fs::ListDir(path);
    ASSERT_TRUE(names_in);
    for (const auto& n : *names_in) Walk(root, rel.empty() ? n : rel + "/" + n, out);
  }
}

// Paths grouped by inode, for files with several names.
std::set<std::set<std::string>> HardLinkGroups(const std::map<std::string, Entry>& tree) {
  std::map<ino_t, std::set<std::string>> by_ino;
  for (const auto& [p, e] : tree)
    if (e.type == "f" && e.nlink > 1) by_ino[e.ino].insert(p);
  std::set<std::set<std::string>> out;
  for (auto& [i, s] : by_ino) out.insert(s);
  return out;
}

::testing::AssertionResult SameTree(const std::string& want_root, const std::string& got_root) {
  std::map<std::string, Entry> want, got;
  Walk(want_root, "", want);
  Walk(got_root, "", got);
  std::string diff;
  for (const auto& [p, e] : want) {
    auto it = got.find(p);
    if (it == got.end()) {
      diff += "missing: " + p + "\n";
    } else if (!(it->second == e)) {
      diff +=
          "differs: " + p + "\n  want " + Describe(e) + "\n  got  " + Describe(it->second) + "\n";
    }
  }
  for (const auto& [p, e] : got)
    if (!want.contains(p)) diff += "extra: " + p + "\n";
  if (HardLinkGroups(want) != HardLinkGroups(got)) diff += "hard links differ\n";
  if (!diff.empty()) return ::testing::AssertionFailure() << diff;
  return ::testing::AssertionSuccess() << want.size() << " entries";
}

// ---- The suite: one registry and one set of images for all tests.

class PullE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || !berth::testing::HaveRegistryTools() ||
        !berth::testing::HaveCommand("umoci") || !berth::testing::HaveCommand("gzip")) {
      skip_ = "needs root, docker-registry, skopeo, umoci and gzip";
      return;
    }
    char tmpl[] = "/var/tmp/berth-pull-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    registry_ = new RealRegistry(dir_, false, true);
    ASSERT_TRUE(registry_->up());
    BuildImages();
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
    if (!dir_.empty()) {
      ::umount2((dir_ + "/mnt").c_str(), MNT_DETACH);
      // BERTH_E2E_KEEP=1 keeps the registry storage, layouts and stores for a look.
      if (std::getenv("BERTH_E2E_KEEP") == nullptr) (void)fs::RemoveAll(dir_);
    }
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static std::string Ref(const std::string& rest) { return registry_->domain() + "/" + rest; }

  static oci::Descriptor LayerBlob(const std::string& layout, const std::string& tar,
                                   std::vector<oci::Digest>& diff_ids) {
    auto data = fs::ReadFile(tar);
    EXPECT_TRUE(data);
    diff_ids.push_back(oci::Sha256Of(*data));
    EXPECT_TRUE(Shell("gzip -n -6 -c " + tar + " > " + tar + ".gz"));
    auto gz = fs::ReadFile(tar + ".gz");
    EXPECT_TRUE(gz);
    return berth::testing::AddLayoutBlob(layout, oci::media_type::kOciLayerGzip, *gz);
  }

  static oci::Descriptor Image(const std::string& layout, const oci::Platform& p,
                               const std::vector<std::string>& tars) {
    oci::ImageConfig cfg;
    cfg.created = "2024-03-01T12:00:00Z";
    cfg.os = p.os;
    cfg.architecture = p.architecture;
    cfg.variant = p.variant;
    cfg.config.cmd = std::vector<std::string>{"/bin/tool"};
    oci::ImageManifest m;
    m.media_type = oci::media_type::kOciManifest;
    for (const auto& t : tars) m.layers.push_back(LayerBlob(layout, t, cfg.diff_ids));
    m.config = berth::testing::AddLayoutBlob(layout, oci::media_type::kOciConfig,
                                             oci::ImageConfigToJson(cfg).dump());
    oci::Descriptor md = berth::testing::AddLayoutBlob(layout, oci::media_type::kOciManifest,
                                                       oci::ImageManifestToJson(m).dump());
    md.platform = p;
    return md;
  }

  static void BuildImages() {
    MakeLayers(dir_);
    for (const char* l : {"l0", "l1", "l2"})
      ASSERT_TRUE(Shell(TarCmd(dir_ + "/" + l, dir_ + "/" + l + ".tar")));
    // Unique layers for the fault tests, so they share nothing with the main image.
    Put(dir_ + "/big/data", Pseudo(48 << 20, 7), 0644);
    ASSERT_TRUE(Shell(TarCmd(dir_ + "/big", dir_ + "/big.tar")));
    Put(dir_ + "/bad/data", Pseudo(300000, 8), 0644);
    ASSERT_TRUE(Shell(TarCmd(dir_ + "/bad", dir_ + "/bad.tar")));
    for (int i = 0; i < 3; ++i) {
      Put(dir_ + "/conc" + std::to_string(i) + "/f", Pseudo(2 << 20, 20 + i), 0644);
      ASSERT_TRUE(Shell(
          TarCmd(dir_ + "/conc" + std::to_string(i), dir_ + "/conc" + std::to_string(i) + ".tar")));
    }

    std::string layout = dir_ + "/layout";
    oci::Platform host = oci::HostPlatform();
    oci::Platform other{"linux", host.architecture == "s390x" ? "ppc64le" : "s390x", "", "", {}};
    std::string t = dir_ + "/";
    oci::Descriptor full = Image(layout, host, {t + "l0.tar", t + "l1.tar", t + "l2.tar"});
    oci::Descriptor small = Image(layout, other, {t + "l0.tar"});
    oci::ImageIndex index;
    index.media_type = oci::media_type::kOciIndex;
    index.manifests = {full, small};
    oci::Descriptor idx = berth::testing::AddLayoutBlob(layout, oci::media_type::kOciIndex,
                                                        oci::ImageIndexToJson(index).dump());
    oci::Descriptor big = Image(layout, host, {t + "big.tar"});
    oci::Descriptor bad = Image(layout, host, {t + "bad.tar"});
    oci::Descriptor conc = Image(layout, host, {t + "conc0.tar", t + "conc1.tar", t + "conc2.tar"});
    for (auto* d : {&full, &big, &bad, &conc}) d->platform.reset();
    berth::testing::WriteLayoutIndex(
        layout, {{"gzip", full}, {"multi", idx}, {"big", big}, {"bad", bad}, {"conc", conc}});
    bad_layer_ =
        oci::ParseImageManifest(*fs::ReadFile(layout + "/blobs/sha256/" + bad.digest.hex), "bad")
            ->layers[0]
            .digest;

    std::string skopeo = "skopeo --insecure-policy copy --dest-tls-verify=false ";
    std::string dest = "docker://" + registry_->domain() + "/test/";
    for (const char* tag : {"gzip", "big", "bad", "conc"})
      ASSERT_TRUE(Shell(skopeo + "--preserve-digests oci:" + layout + ":" + tag + " " + dest +
                        (std::string(tag) == "gzip" ? "img:gzip" : std::string(tag) + ":1")));
    ASSERT_TRUE(
        Shell(skopeo + "--all --preserve-digests oci:" + layout + ":multi " + dest + "img:multi"));
    ASSERT_TRUE(Shell(skopeo + "--format v2s2 oci:" + layout + ":gzip " + dest + "img:docker"));
    ASSERT_TRUE(Shell(skopeo + "--dest-compress --dest-compress-format zstd oci:" + layout +
                      ":gzip oci:" + dir_ + "/zstd:zstd"));
    ASSERT_TRUE(
        Shell(skopeo + "--preserve-digests oci:" + dir_ + "/zstd:zstd " + dest + "img:zstd"));
    // What umoci makes of the image: the reference tree.
    ASSERT_TRUE(Shell("umoci unpack --image " + layout + ":gzip " + dir_ + "/umoci"));
    // The corrupted blob: one byte flipped in the registry's copy, size unchanged.
    std::string data_path = registry_->BlobDataPath(bad_layer_);
    auto data = fs::ReadFile(data_path);
    ASSERT_TRUE(data) << data_path;
    (*data)[data->size() / 2] ^= 0x5a;
    ASSERT_TRUE(fs::WriteFileAtomic(data_path, *data));
  }

  // Runs the berth binary; returns its exit status, output in *out (stdout+stderr).
  static int Berth(const std::string& root, const std::string& args, std::string* out = nullptr) {
    int status = -1;
    std::string o =
        Capture(std::string(BERTH_BIN) + " --root " + root + " " + args + " 2>&1", &status);
    if (out) *out = o;
    return status;
  }

  // Mounts the image's layers read-only (overlay of the lower dirs) and compares with umoci's.
  static ::testing::AssertionResult MatchesUmoci(const std::string& root,
                                                 const std::string& image) {
    auto store = Store::Open(root);
    if (!store) return ::testing::AssertionFailure() << store.error().message();
    auto dirs = store->LayerDirs(image);
    if (!dirs) return ::testing::AssertionFailure() << dirs.error().message();
    std::string mnt = dir_ + "/mnt";
    EXPECT_TRUE(fs::MkdirAll(mnt));
    std::string opts = "lowerdir=" + str::Join(*dirs, ":");
    if (::mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, opts.c_str()) != 0)
      return ::testing::AssertionFailure() << "mount overlay " << opts << ": " << strerror(errno);
    auto r = SameTree(dir_ + "/umoci/rootfs", mnt);
    ::umount2(mnt.c_str(), MNT_DETACH);
    return r;
  }

  static std::string NewRoot(const std::string& name) { return dir_ + "/roots/" + name; }

  static size_t BlobGets(const std::string& repo, const oci::Digest& d) {
    auto log = fs::ReadFile(registry_->log());
    size_t n = 0;
    for (const auto& line : str::Split(log.value_or(""), '\n'))
      if (line.find("response completed") != std::string::npos &&
          line.find("http.request.method=GET") != std::string::npos &&
          line.find("/v2/" + repo + "/blobs/" + d.ToString()) != std::string::npos)
        ++n;
    return n;
  }

  static inline std::string skip_, dir_;
  static inline RealRegistry* registry_ = nullptr;
  static inline oci::Digest bad_layer_;
};

TEST_F(PullE2ETest, GzipImageMatchesUmociAndRepullIsCheap) {
  std::string root = NewRoot("gzip"), out;
  ASSERT_EQ(Berth(root, "pull " + Ref("test/img:gzip"), &out), 0) << out;
  EXPECT_NE(out.find("Pull complete"), std::string::npos) << out;
  EXPECT_NE(out.find("Status: Downloaded newer image"), std::string::npos) << out;
  EXPECT_TRUE(MatchesUmoci(root, Ref("test/img:gzip")));

  ASSERT_EQ(Berth(root, "pull " + Ref("test/img:gzip"), &out), 0) << out;
  EXPECT_NE(out.find("Already exists"), std::string::npos) << out;
  EXPECT_NE(out.find("Status: Image is up to date"), std::string::npos) << out;

  // The Docker schema 2 copy shares every layer (same blobs): nothing is extracted again.
  ASSERT_EQ(Berth(root, "pull " + Ref("test/img:docker"), &out), 0) << out;
  EXPECT_EQ(out.find("Pull complete"), std::string::npos) << out;
  auto store = Store::Open(root);
  ASSERT_TRUE(store);
  auto docker = store->Resolve(Ref("test/img:docker"));
  ASSERT_TRUE(docker);
  EXPECT_EQ(docker->manifest_media_type, oci::media_type::kDockerManifest);
  EXPECT_EQ(docker->config, store->Resolve(Ref("test/img:gzip"))->config);
  EXPECT_TRUE(MatchesUmoci(root, Ref("test/img:docker")));

  ASSERT_EQ(Berth(root, "images", &out), 0) << out;
  EXPECT_NE(out.find("REPOSITORY"), std::string::npos) << out;
  EXPECT_NE(out.find(registry_->domain() + "/test/img   docker"), std::string::npos) << out;
  ASSERT_EQ(Berth(root, "inspect " + Ref("test/img:gzip"), &out), 0) << out;
  auto j = ParseJson(out, "inspect");
  ASSERT_TRUE(j) << out;
  EXPECT_EQ((*j)[0]["RootFS"]["Layers"].size(), 3u);
  EXPECT_EQ((*j)[0]["Config"]["Cmd"][0], "/bin/tool");
  ASSERT_EQ(Berth(root, "system check", &out), 0) << out;
  EXPECT_NE(out.find(": clean"), std::string::npos) << out;

  // rmi of one name keeps the shared layers; the last name takes them.
  ASSERT_EQ(Berth(root, "rmi " + Ref("test/img:gzip"), &out), 0) << out;
  EXPECT_TRUE(MatchesUmoci(root, Ref("test/img:docker")));
  ASSERT_EQ(Berth(root, "rmi " + Ref("test/img:docker"), &out), 0) << out;
  EXPECT_NE(out.find("Deleted: sha256:"), std::string::npos) << out;
  EXPECT_TRUE(fs::ListDir(root + "/layers")->empty());
  EXPECT_TRUE(fs::ListDir(root + "/blobs/sha256")->empty());
}

TEST_F(PullE2ETest, ZstdImageMatchesUmocisGzipTree) {
  std::string root = NewRoot("zstd"), out;
  ASSERT_EQ(Berth(root, "pull --jobs 2 " + Ref("test/img:zstd"), &out), 0) << out;
  auto store = Store::Open(root);
  ASSERT_TRUE(store);
  auto m = store->Manifest(Ref("test/img:zstd"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->layers[0].media_type, oci::media_type::kOciLayerZstd);
  EXPECT_TRUE(MatchesUmoci(root, Ref("test/img:zstd")));
  // The compressed blobs are kept for push/save.
  for (const auto& l : m->layers) EXPECT_TRUE(store->HasBlob(l.digest)) << l.digest.ToString();
}

TEST_F(PullE2ETest, MultiPlatformIndexPicksThePlatform) {
  std::string root = NewRoot("multi"), out;
  ASSERT_EQ(Berth(root, "pull " + Ref("test/img:multi"), &out), 0) << out;
  EXPECT_TRUE(MatchesUmoci(root, Ref("test/img:multi")));
  std::string other = oci::HostPlatform().architecture == "s390x" ? "linux/ppc64le" : "linux/s390x";
  std::string root2 = NewRoot("multi-other");
  ASSERT_EQ(Berth(root2, "pull -q --platform " + other + " " + Ref("test/img:multi"), &out), 0)
      << out;
  EXPECT_EQ(out, Ref("test/img:multi") + "\n");
  auto store = Store::Open(root2);
  ASSERT_TRUE(store);
  auto rec = store->Resolve(Ref("test/img:multi"));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->platform, other);
  EXPECT_NE(rec->digest, rec->manifest);  // the name resolved to the index
  auto dirs = store->LayerDirs(Ref("test/img:multi"));
  ASSERT_TRUE(dirs);
  EXPECT_EQ(dirs->size(), 1u);

  EXPECT_EQ(Berth(root2, "pull --platform linux/mips64le " + Ref("test/img:multi"), &out), 1);
  EXPECT_NE(out.find("has no variant for linux/mips64le"), std::string::npos) << out;
}

TEST_F(PullE2ETest, KilledPullIsRepeatedAndTheStoreIsClean) {
  std::string root = NewRoot("kill");
  ASSERT_TRUE(fs::MkdirAll(root));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::string ref = Ref("test/big:1");
    ::execl(BERTH_BIN, BERTH_BIN, "--root", root.c_str(), "pull", "-q", ref.c_str(), nullptr);
    ::_exit(127);
  }
  // Kill it once a layer is being written into tmp/.
  bool killed = false;
  for (int i = 0; i < 20000 && !killed; ++i) {
    auto names = fs::ListDir(root + "/tmp");
    for (const auto& n : names.value_or(std::vector<std::string>{})) {
      struct stat st;
      if (str::StartsWith(n, "blob-") && ::stat((root + "/tmp/" + n).c_str(), &st) == 0 &&
          st.st_size > (4 << 20)) {
        ::kill(pid, SIGKILL);
        killed = true;
        break;
      }
    }
    if (!killed) ::usleep(500);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(killed && WIFSIGNALED(status)) << "the pull ended before it could be killed";
  EXPECT_FALSE(fs::ListDir(root + "/tmp")->empty());  // its leftovers

  std::string out;
  ASSERT_EQ(Berth(root, "pull " + Ref("test/big:1"), &out), 0) << out;
  EXPECT_TRUE(fs::ListDir(root + "/tmp")->empty());
  ASSERT_EQ(Berth(root, "system check", &out), 0) << out;
  EXPECT_NE(out.find(": clean"), std::string::npos) << out;
  EXPECT_NE(out.find("1 images"), std::string::npos) << out;
}

TEST_F(PullE2ETest, CorruptedBlobFailsNamingTheLayerAndLeavesNothingReferenced) {
  std::string root = NewRoot("bad"), out;
  EXPECT_EQ(Berth(root, "pull " + Ref("test/bad:1"), &out), 1) << out;
  EXPECT_NE(out.find("layer " + bad_layer_.ToString() + " from " + Ref("test/bad")),
            std::string::npos)
      << out;
  EXPECT_EQ(BlobGets("test/bad", bad_layer_), 2u) << "fetched once more after the mismatch";
  ASSERT_EQ(Berth(root, "images -q", &out), 0) << out;
  EXPECT_EQ(out, "");
  EXPECT_FALSE(fs::Exists(root + "/blobs/sha256/" + bad_layer_.hex));
  EXPECT_TRUE(fs::ListDir(root + "/layers")->empty());
  EXPECT_TRUE(fs::ListDir(root + "/tmp")->empty());
  ASSERT_EQ(Berth(root, "system check", &out), 0) << out;
  // The manifest and config that did arrive are collected by prune.
  ASSERT_EQ(Berth(root, "system prune", &out), 0) << out;
  EXPECT_TRUE(fs::ListDir(root + "/blobs/sha256")->empty()) << out;
}

// Pull's progress redrawn in place on a terminal (script(1) gives it a pty) and plain lines when
// piped; `tag`, and `images --format json` listing both names of one image.
TEST_F(PullE2ETest, ProgressOnATerminalTagAndImagesJson) {
  std::string root = NewRoot("tag"), out;
  int code = -1;
  std::string pull = std::string(BERTH_BIN) + " --root " + root + " pull " + Ref("test/img:gzip");
  out = Capture("script -qec '" + pull + "' /dev/null", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\x1b[2K"), std::string::npos) << "no bars redrawn on a terminal: " << out;
  EXPECT_NE(out.find("Pull complete"), std::string::npos) << out;
  ASSERT_EQ(Berth(root, "pull " + Ref("test/img:gzip"), &out), 0) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "escape sequences in piped output: " << out;
  EXPECT_NE(out.find("Already exists"), std::string::npos) << out;

  ASSERT_EQ(Berth(root, "tag " + Ref("test/img:gzip") + " example.com/team/renamed:v2", &out), 0)
      << out;
  ASSERT_EQ(Berth(root, "images --format json", &out), 0) << out;
  auto j = ParseJson(out, "images --format json");
  ASSERT_TRUE(j) << out;
  std::map<std::string, Json> by_name;
  for (const Json& e : *j) by_name[e.value("Name", "")] = e;
  ASSERT_TRUE(by_name.count("example.com/team/renamed:v2")) << out;
  ASSERT_TRUE(by_name.count(Ref("test/img:gzip"))) << out;
  const Json& renamed = by_name["example.com/team/renamed:v2"];
  EXPECT_EQ(renamed["Repository"], "example.com/team/renamed");
  EXPECT_EQ(renamed["Tag"], "v2");
  EXPECT_EQ(renamed["ID"], by_name[Ref("test/img:gzip")]["ID"]);
  EXPECT_GT(renamed["Size"].get<int64_t>(), 0);
  EXPECT_FALSE(renamed["Created"].get<std::string>().empty());

  // Bad input: one line naming what is wrong, nothing changed.
  EXPECT_NE(Berth(root, "tag nosuch:1 example.com/x:1", &out), 0);
  EXPECT_NE(out.find("nosuch"), std::string::npos) << out;
  EXPECT_NE(Berth(root, "tag " + Ref("test/img:gzip") + " Bad/Name", &out), 0);
  EXPECT_NE(out.find("Bad/Name"), std::string::npos) << out;
  ASSERT_EQ(Berth(root, "images -q", &out), 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST_F(PullE2ETest, MissingImageIsNotFound) {
  std::string out;
  EXPECT_EQ(Berth(NewRoot("missing"), "pull " + Ref("test/nope:1"), &out), 1);
  EXPECT_NE(out.find("image not found: " + Ref("test/nope:1")), std::string::npos) << out;
}

TEST_F(PullE2ETest, TwoPullsAtOnceFetchEachBlobOnce) {
  std::string root = NewRoot("conc");
  ASSERT_TRUE(fs::MkdirAll(root));
  std::string cmd = std::string(BERTH_BIN) + " --root " + root + " pull -q " + Ref("test/conc:1");
  ASSERT_TRUE(Shell(cmd + " & " + cmd + " & wait %1 && wait %2"));
  auto store = Store::Open(root);
  ASSERT_TRUE(store);
  auto m = store->Manifest(Ref("test/conc:1"));
  ASSERT_TRUE(m);
  for (const auto& l : m->layers)
    EXPECT_EQ(BlobGets("test/conc", l.digest), 1u) << l.digest.ToString();
  EXPECT_EQ(BlobGets("test/conc", m->config.digest), 1u);
  auto check = store->Check(false);
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->clean());
}

}  // namespace
}  // namespace berth::store
