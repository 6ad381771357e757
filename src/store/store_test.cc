#include "store/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "base/fs.h"
#include "store/tmp.h"

namespace berth::store {
namespace {

oci::Digest D(char c) { return oci::Digest{"sha256", std::string(64, c)}; }

TEST(ChainIdsTest, FollowsTheImageSpec) {
  EXPECT_TRUE(ChainIds({}).empty());
  auto one = ChainIds({D('a')});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], D('a'));
  // Computed independently: sha256("sha256:aaa.. sha256:bbb..") and so on.
  auto three = ChainIds({D('a'), D('b'), D('c')});
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[0], D('a'));
  EXPECT_EQ(three[1].ToString(),
            "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
  EXPECT_EQ(three[2].ToString(),
            "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588");
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-store-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = Store::Open(dir_ + "/root");
    ASSERT_TRUE(s) << s.error().message();
    store_.emplace(std::move(*s));
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }

  size_t TmpEntries() {
    return fs::ListDir(dir_ + "/root/tmp").value_or(std::vector<std::string>{}).size();
  }

  // A layer holding one file, committed under the chain ID of `diff_ids`.
  oci::Digest AddLayer(const std::vector<oci::Digest>& diff_ids, const std::string& file) {
    auto chains = ChainIds(diff_ids);
    auto w = store_->NewLayerWriter(chains.back());
    EXPECT_TRUE(w) << w.error().message();
    EXPECT_TRUE(fs::WriteFileAtomic(fs::Join(w->diff_dir(), file), file));
    LayerRecord r{chains.back(), diff_ids.back(), std::nullopt, 100, D('f'), "x"};
    if (chains.size() > 1) r.parent = chains[chains.size() - 2];
    auto c = w->Commit(r);
    EXPECT_TRUE(c) << c.error().message();
    return chains.back();
  }

  // An image with layers whose diff_ids are given (layers are made when missing).
  ImageRecord AddImage(const std::string& name, const std::vector<oci::Digest>& diff_ids,
                       const std::string& tag_of_config = "") {
    for (size_t i = 0; i < diff_ids.size(); ++i) {
      std::vector<oci::Digest> prefix(diff_ids.begin(), diff_ids.begin() + i + 1);
      if (!store_->HasLayer(ChainIds(prefix).back())) AddLayer(prefix, "f" + std::to_string(i));
    }
    oci::ImageConfig cfg;
    cfg.os = "linux";
    cfg.architecture = "amd64";
    cfg.author = tag_of_config;
    cfg.diff_ids = diff_ids;
    std::string cfg_json = oci::ImageConfigToJson(cfg).dump();
    oci::ImageManifest m;
    m.media_type = oci::media_type::kOciManifest;
    m.config = {std::string(oci::media_type::kOciConfig),
                oci::Sha256Of(cfg_json),
                static_cast<int64_t>(cfg_json.size()),
                {},
                std::nullopt,
                {},
                ""};
    for (const auto& d : diff_ids) {
      std::string blob = "blob of " + d.hex;
      EXPECT_TRUE(store_->PutBlob(oci::Sha256Of(blob), blob));
      m.layers.push_back({std::string(oci::media_type::kOciLayerGzip),
                          oci::Sha256Of(blob),
                          static_cast<int64_t>(blob.size()),
                          {},
                          std::nullopt,
                          {},
                          ""});
    }
    std::string m_json = oci::ImageManifestToJson(m).dump();
    EXPECT_TRUE(store_->PutBlob(oci::Sha256Of(m_json), m_json));
    EXPECT_TRUE(store_->PutBlob(m.config.digest, cfg_json));
    ImageRecord r;
    r.name = name;
    r.digest = oci::Sha256Of(m_json);
    r.manifest = r.digest;
    r.manifest_media_type = m.media_type;
    r.config = m.config.digest;
    r.platform = "linux/amd64";
    r.size = 100 * diff_ids.size();
    auto put = store_->PutImage(r);
    EXPECT_TRUE(put) << put.error().message();
    return r;
  }

  std::string dir_;
  std::optional<Store> store_;
};

TEST_F(StoreTest, BlobsAreVerifiedBeforeTheyAppear) {
  std::string data = "hello blob";
  oci::Digest d = oci::Sha256Of(data);
  EXPECT_FALSE(store_->HasBlob(d));
  ASSERT_TRUE(store_->PutBlob(d, data));
  EXPECT_TRUE(store_->HasBlob(d));
  EXPECT_EQ(store_->BlobPath(d), dir_ + "/root/blobs/sha256/" + d.hex);
  auto back = store_->ReadBlob(d);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);

  // Wrong content for a digest: refused, nothing left behind.
  oci::Digest other = oci::Sha256Of("other");
  auto bad = store_->PutBlob(other, data);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kDataLoss);
  EXPECT_FALSE(store_->HasBlob(other));
  EXPECT_EQ(TmpEntries(), 0u);

  // Too many bytes is caught while writing.
  auto w = store_->NewBlobWriter(d, 3);
  ASSERT_TRUE(w);
  EXPECT_EQ(TmpEntries(), 1u);
  auto wr = w->Write(data);
  ASSERT_FALSE(wr);
  EXPECT_EQ(wr.error().kind(), ErrorKind::kDataLoss);
  *w = std::move(*store_->NewBlobWriter(oci::Sha256Of("x"), -1));
  EXPECT_EQ(TmpEntries(), 1u);  // the first writer's file went with it

  auto missing = store_->ReadBlob(other);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
}

TEST_F(StoreTest, AbandonedTmpEntriesAreRemovedLockedOnesKept) {
  // A writer in this store object holds its entry locked.
  auto live = store_->NewBlobWriter(oci::Sha256Of("x"), 1);
  ASSERT_TRUE(live);
  // What a dead process leaves: entries nobody locks.
  ASSERT_TRUE(fs::MkdirAll(dir_ + "/root/tmp/layer-dead/diff/a/b"));
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/root/tmp/blob-dead", "partial"));
  ASSERT_EQ(::symlink("/etc", (dir_ + "/root/tmp/odd").c_str()), 0);
  EXPECT_EQ(TmpEntries(), 4u);
  auto again = Store::Open(dir_ + "/root");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(TmpEntries(), 1u);
  EXPECT_TRUE(live->Write("x"));
  EXPECT_TRUE(live->Commit());
  EXPECT_EQ(TmpEntries(), 0u);
}

TEST_F(StoreTest, KilledWriterLeavesOnlyTmpWhichTheNextOpenRemoves) {
  std::string data(1 << 20, 'k');
  oci::Digest d = oci::Sha256Of(data);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = store_->NewBlobWriter(d, static_cast<int64_t>(data.size()));
    if (!w || !w->Write(std::string_view(data).substr(0, 1000))) ::_exit(2);
    auto l = store_->NewLayerWriter(D('e'));
    if (!l || !fs::WriteFileAtomic(l->diff_dir() + "/x", "x")) ::_exit(3);
    ::kill(::getpid(), SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(TmpEntries(), 2u);
  EXPECT_FALSE(store_->HasBlob(d));
  EXPECT_FALSE(store_->HasLayer(D('e')));
  ASSERT_TRUE(Store::Open(dir_ + "/root"));
  EXPECT_EQ(TmpEntries(), 0u);
  auto check = store_->Check(false);
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->clean());
}

// The opener's access (engine/rootless.h: a user with subordinate ids gives its layers their
// owners in its namespace): finish_layer sees each layer filled and not yet published, its error
// fails the commit and leaves nothing, and every tree is removed through remove_tree.
TEST_F(StoreTest, AccessFinishesLayersBeforeTheyAppearAndRemovesTrees) {
  std::vector<std::string> finished, removed;
  bool refuse = false;
  StoreAccess access;
  access.finish_layer = [&](const std::string& diff) -> Result<void> {
    finished.push_back(diff);
    EXPECT_TRUE(fs::Exists(diff + "/f0"));
    EXPECT_EQ(fs::ListDir(dir_ + "/root/layers")->size(), finished.size() - 1)
        << "published before it was finished";
    if (refuse) return MakeError("refused");
    return {};
  };
  access.remove_tree = [&](const std::string& path) -> Result<void> {
    removed.push_back(path);
    return fs::RemoveAll(path);
  };
  ASSERT_TRUE(fs::MkdirAll(dir_ + "/root/tmp/layer-dead/diff"));
  auto s = Store::Open(dir_ + "/root", access);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(removed, std::vector<std::string>{dir_ + "/root/tmp/layer-dead"});
  store_.emplace(std::move(*s));

  AddImage("docker.io/library/a:1", {D('1')});
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_TRUE(finished[0].starts_with(dir_ + "/root/tmp/layer-")) << finished[0];
  EXPECT_TRUE(store_->HasLayer(D('1')));

  refuse = true;
  removed.clear();
  {
    auto w = store_->NewLayerWriter(D('2'));
    ASSERT_TRUE(w);
    ASSERT_TRUE(fs::WriteFileAtomic(w->diff_dir() + "/f0", "x"));
    auto c = w->Commit(LayerRecord{D('2'), D('2'), std::nullopt, 1, D('f'), "x"});
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message().find("refused"), std::string::npos) << c.error().message();
  }
  EXPECT_FALSE(store_->HasLayer(D('2')));
  EXPECT_EQ(removed.size(), 1u);
  EXPECT_EQ(TmpEntries(), 0u);

  removed.clear();
  ASSERT_TRUE(store_->RemoveImages("a:1", false));
  EXPECT_FALSE(store_->HasLayer(D('1')));
  EXPECT_EQ(std::set<std::string>(removed.begin(), removed.end()).size(), 4u)
      << "the layer, its blob, the manifest and the config";
  EXPECT_EQ(TmpEntries(), 0u);
}

TEST_F(StoreTest, ConcurrentPutsOfOneBlobWriteItOnce) {
  std::string data(4 << 20, 'c');
  oci::Digest d = oci::Sha256Of(data);
  std::atomic<int> writes{0};
  auto put = [&] {
    auto lease = store_->Lease();
    ASSERT_TRUE(lease);
    auto lock = store_->LockBlob(d);
    ASSERT_TRUE(lock);
    if (store_->HasBlob(d)) return;
    ++writes;
    auto w = store_->NewBlobWriter(d, static_cast<int64_t>(data.size()));
    ASSERT_TRUE(w);
    for (size_t off = 0; off < data.size(); off += 65536)
      ASSERT_TRUE(w->Write(std::string_view(data).substr(off, 65536)));
    ASSERT_TRUE(w->Commit());
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(put);
  for (auto& t : threads) t.join();
  EXPECT_EQ(writes, 1);
  EXPECT_TRUE(store_->ReadBlob(d));
}

TEST_F(StoreTest, ConcurrentPutsFromTwoProcessesWriteOnce) {
  std::string data(8 << 20, 'p');
  oci::Digest d = oci::Sha256Of(data);
  std::string marks = dir_ + "/marks";
  std::vector<pid_t> kids;
  for (int i = 0; i < 2; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = Store::Open(dir_ + "/root");
      if (!s) ::_exit(2);
      auto lease = s->Lease();
      auto lock = s->LockBlob(d);
      if (!lease || !lock) ::_exit(3);
      if (!s->HasBlob(d)) {
        int fd = ::open(marks.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        (void)!::write(fd, "w", 1);
        ::close(fd);
        if (!s->PutBlob(d, data)) ::_exit(4);
      }
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  EXPECT_EQ(fs::ReadFile(marks).value_or(""), "w");
  EXPECT_TRUE(store_->ReadBlob(d));
}

TEST_F(StoreTest, ImagesFindTagAndLayerDirs) {
  ImageRecord a = AddImage("docker.io/library/alpine:3", {D('1'), D('2')});
  auto chains = ChainIds({D('1'), D('2')});
  auto dirs = store_->LayerDirs("alpine:3");
  ASSERT_TRUE(dirs) << dirs.error().message();
  EXPECT_EQ(*dirs, (std::vector<std::string>{store_->LayerDiffPath(chains[1]),
                                             store_->LayerDiffPath(chains[0])}));
  auto layer = store_->GetLayer(chains[1]);
  ASSERT_TRUE(layer);
  EXPECT_EQ(layer->parent, chains[0]);
  EXPECT_EQ(layer->diff_id, D('2'));

  auto cfg = store_->Config(a.config.hex.substr(0, 12));
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->diff_ids, (std::vector<oci::Digest>{D('1'), D('2')}));
  EXPECT_TRUE(store_->Resolve("docker.io/library/alpine@" + a.manifest.ToString()));
  EXPECT_TRUE(store_->Resolve(a.config.ToString()));
  auto none = store_->Resolve("alpine:4");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(none.error().message(), "no such image: alpine:4");

  auto t = store_->Tag("alpine:3", "example.com/me/alp:v1");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->name, "example.com/me/alp:v1");
  auto images = store_->Images();
  ASSERT_TRUE(images);
  ASSERT_EQ(images->size(), 2u);
  EXPECT_EQ((*images)[0].name, "docker.io/library/alpine:3");
  EXPECT_FALSE(store_->Tag("alpine:3", "x@" + a.manifest.ToString()));

  // By ID with two names: must be forced.
  auto rm = store_->RemoveImages(a.config.hex.substr(0, 8), false);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind(), ErrorKind::kFailedPrecondition);
  // Removing one name keeps everything the other uses.
  rm = store_->RemoveImages("alpine:3", false);
  ASSERT_TRUE(rm) << rm.error().message();
  EXPECT_TRUE(store_->LayerDirs("example.com/me/alp:v1"));
  EXPECT_TRUE(store_->HasBlob(a.config));
  rm = store_->RemoveImages("example.com/me/alp:v1", false);
  ASSERT_TRUE(rm) << rm.error().message();
  EXPECT_FALSE(store_->HasBlob(a.config));
  EXPECT_FALSE(store_->HasLayer(chains[0]));
  EXPECT_EQ(fs::ListDir(dir_ + "/root/blobs/sha256")->size(), 0u);
}

TEST_F(StoreTest, PutImageRefusesMissingObjects) {
  ImageRecord r;
  r.name = "docker.io/library/x:1";
  r.manifest = D('9');
  r.config = D('8');
  auto put = store_->PutImage(r);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind(), ErrorKind::kFailedPrecondition);
  EXPECT_TRUE(store_->Images()->empty());
}

TEST_F(StoreTest, PruneKeepsWhatImagesAndExtraRootsUse) {
  ImageRecord a = AddImage("docker.io/library/a:1", {D('1'), D('2')});
  ImageRecord b = AddImage("docker.io/library/b:1", {D('1'), D('3')});
  oci::Digest orphan_layer = AddLayer({D('7')}, "o");
  oci::Digest kept_layer = AddLayer({D('6')}, "k");
  ASSERT_TRUE(store_->PutBlob(oci::Sha256Of("orphan"), "orphan"));
  Roots extra;
  extra.layers.insert(kept_layer);
  auto p = store_->Prune(extra);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->layers, std::vector<oci::Digest>{orphan_layer});
  EXPECT_EQ(p->blobs, std::vector<oci::Digest>{oci::Sha256Of("orphan")});
  EXPECT_TRUE(store_->HasLayer(kept_layer));
  EXPECT_TRUE(store_->LayerDirs("a:1"));
  EXPECT_TRUE(store_->LayerDirs("b:1"));
  // Shared base layer survives removing one image.
  ASSERT_TRUE(store_->RemoveImages("a:1", false));
  EXPECT_TRUE(store_->HasLayer(ChainIds({D('1')})[0]));
  EXPECT_FALSE(store_->HasLayer(ChainIds({D('1'), D('2')})[1]));
  EXPECT_TRUE(store_->LayerDirs("b:1"));
}

TEST_F(StoreTest, CheckFindsDamageAndRepairRemovesIt) {
  ImageRecord a = AddImage("docker.io/library/a:1", {D('1'), D('2')});
  ImageRecord b = AddImage("docker.io/library/b:1", {D('4')});
  auto clean = store_->Check(false);
  ASSERT_TRUE(clean) << clean.error().message();
  EXPECT_TRUE(clean->clean()) << clean->problems.front();
  EXPECT_EQ(clean->images, 2u);
  EXPECT_EQ(clean->layers, 3u);

  // Flip a byte of b's config; remove a's top layer's metadata.
  std::string cfg_path = store_->BlobPath(b.config);
  std::string cfg = *fs::ReadFile(cfg_path);
  cfg[0] ^= 1;
  ASSERT_TRUE(fs::WriteFileAtomic(cfg_path, cfg));
  auto chains = ChainIds({D('1'), D('2')});
  ASSERT_EQ(::unlink((store_->LayerPath(chains[1]) + "/layer.json").c_str()), 0);

  auto report = store_->Check(false);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->clean());
  std::string all;
  for (const auto& p : report->problems) all += p + "\n";
  EXPECT_NE(all.find("blob " + b.config.ToString() + ": damaged"), std::string::npos) << all;
  EXPECT_NE(all.find("layer " + chains[1].ToString()), std::string::npos) << all;
  EXPECT_NE(all.find("image docker.io/library/b:1"), std::string::npos) << all;
  EXPECT_TRUE(fs::Exists(cfg_path));  // not repaired without repair

  auto repaired = store_->Check(true);
  ASSERT_TRUE(repaired) << repaired.error().message();
  EXPECT_FALSE(repaired->repaired.empty());
  EXPECT_FALSE(fs::Exists(cfg_path));
  EXPECT_FALSE(fs::Exists(store_->LayerPath(chains[1])));
  EXPECT_FALSE(store_->Resolve("b:1"));  // its config is gone: the record went too
  auto dirs = store_->LayerDirs("a:1");
  ASSERT_FALSE(dirs);
  EXPECT_NE(dirs.error().message().find("pull the image again"), std::string::npos);

  // What is left is consistent apart from a's missing layer, which a pull brings back.
  auto after = store_->Check(false);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->problems.size(), 1u);
  EXPECT_NE(after->problems[0].find("layer " + chains[1].ToString() + " is missing"),
            std::string::npos);
  AddLayer({D('1'), D('2')}, "again");
  EXPECT_TRUE(store_->Check(false)->clean());
}

}  // namespace
}  // namespace berth::store
