// CommitLayer on upper directories made here, over an image imported into a store in a temp dir:
// the new image's documents, its unpacked layer, determinism under SOURCE_DATE_EPOCH, empty
// uppers, untagged images, and failures that must leave the store as it was.
#include "image/commit.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "base/fs.h"
#include "image/import.h"
#include "image/local_input_test_util.h"

namespace berth::image {
namespace {

namespace ut = unpack::testing;
using testing::Owned;

constexpr int64_t kEpoch = 1700000000;  // 2023-11-14T22:13:20Z

class CommitTest : public testing::LocalInputTest {
 protected:
  void SetUp() override {
    LocalInputTest::SetUp();
    std::string tar = dir_ / "base.tar";
    ASSERT_TRUE(fs::WriteFileAtomic(
        tar, ut::MakeTar({Owned(ut::Dir("etc")), Owned(ut::File("etc/hostname", "box\n")),
                          Owned(ut::File("etc/keep", "kept\n"))})));
    ImportRequest req{tar, "example.com/base:1", {"CMD [\"sh\"]", "ENV A=1"}, "", ""};
    auto base = ImportImage(*store_, req, apply_);
    ASSERT_TRUE(base) << base.error().message();
    base_ = *base;
    upper_ = dir_ / "upper";
    ASSERT_TRUE(fs::MkdirAll(upper_));
    TakeSnapshot();
  }

  CommitRequest Request() const {
    CommitRequest r;
    r.parent = base_.config.ToString();
    r.upper_dir = upper_;
    r.overlay_xattr_prefix = "user.overlay.";
    r.reference = "example.com/committed:1";
    r.created_by = "sh -c echo hi > /x";
    return r;
  }

  void Put(const std::string& rel, const std::string& data) {
    std::string path = fs::Join(upper_, rel);
    ASSERT_TRUE(fs::MkdirAll(path.substr(0, path.rfind('/'))));
    ASSERT_TRUE(fs::WriteFileAtomic(path, data));
  }

  oci::ImageConfig Config(const store::ImageRecord& r) {
    auto c = store_->Config(r.config.ToString());
    EXPECT_TRUE(c) << c.error().message();
    return c.value_or(oci::ImageConfig{});
  }
  oci::ImageManifest Manifest(const store::ImageRecord& r) {
    auto m = store_->Manifest(r.config.ToString());
    EXPECT_TRUE(m) << m.error().message();
    return m.value_or(oci::ImageManifest{});
  }

  store::ImageRecord base_;
  std::string upper_;
};

TEST_F(CommitTest, AddsTheUpperAsALayerOnTopOfTheParent) {
  Put("x", "hi\n");
  Put("etc/new", "new\n");
  CommitRequest req = Request();
  req.author = "Jane <jane@example.com>";
  req.message = "a message";
  req.changes = {"ENV B=2", "WORKDIR /srv"};
  auto r = CommitLayer(*store_, req, apply_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->name, "example.com/committed:1");
  EXPECT_EQ(store_->Resolve("example.com/committed:1")->config, r->config);

  oci::ImageConfig base = Config(base_);
  oci::ImageConfig c = Config(*r);
  ASSERT_EQ(c.diff_ids.size(), 2u);
  EXPECT_EQ(c.diff_ids[0], base.diff_ids[0]);
  EXPECT_EQ(c.author, "Jane <jane@example.com>");
  EXPECT_EQ(c.config.cmd, std::vector<std::string>{"sh"});  // the parent's, kept
  EXPECT_EQ(c.config.env, (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(c.config.working_dir, "/srv");
  ASSERT_EQ(c.history.size(), 2u);
  EXPECT_EQ(c.history[0], base.history[0]);
  EXPECT_EQ(c.history[1].created_by, "sh -c echo hi > /x");
  EXPECT_EQ(c.history[1].comment, "a message");
  EXPECT_EQ(c.history[1].author, "Jane <jane@example.com>");
  EXPECT_FALSE(c.history[1].empty_layer);
  EXPECT_EQ(c.history[1].created, c.created);

  oci::ImageManifest m = Manifest(*r);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0], Manifest(base_).layers[0]);
  EXPECT_EQ(m.layers[1].media_type, oci::media_type::kOciLayerGzip);
  auto blob = fs::ReadFile(store_->BlobPath(m.layers[1].digest));
  ASSERT_TRUE(blob);
  EXPECT_EQ(static_cast<int64_t>(blob->size()), m.layers[1].size);
  EXPECT_EQ(oci::Sha256Of(*blob), m.layers[1].digest);

  // The layer is in the store under its chain ID, as a pull would leave it.
  auto chains = store::ChainIds(c.diff_ids);
  auto layer = store_->GetLayer(chains[1]);
  ASSERT_TRUE(layer) << layer.error().message();
  EXPECT_EQ(layer->diff_id, c.diff_ids[1]);
  EXPECT_EQ(layer->parent, chains[0]);
  EXPECT_EQ(layer->blob, m.layers[1].digest);
  EXPECT_EQ(fs::ReadFile(store_->LayerDiffPath(chains[1]) + "/x").value_or(""), "hi\n");
  EXPECT_EQ(fs::ReadFile(store_->LayerDiffPath(chains[1]) + "/etc/new").value_or(""), "new\n");
  EXPECT_FALSE(fs::Exists(store_->LayerDiffPath(chains[1]) + "/etc/keep"));
  auto dirs = store_->LayerDirs("example.com/committed:1");
  ASSERT_TRUE(dirs);
  EXPECT_EQ(dirs->size(), 2u);
  EXPECT_TRUE(store_->Check(false)->clean());
}

// A file of the parent deleted in the container: overlayfs leaves a 0/0 character device in
// the upper dir, the tar carries ".wh.NAME", and the unpacked layer has the device again.
TEST_F(CommitTest, DeletedFileBecomesAWhiteout) {
  if (::geteuid() != 0) GTEST_SKIP() << "making a 0/0 character device needs root";
  ASSERT_TRUE(fs::MkdirAll(upper_ + "/etc"));
  ASSERT_EQ(::mknod((upper_ + "/etc/hostname").c_str(), S_IFCHR | 0000, makedev(0, 0)), 0);
  auto r = CommitLayer(*store_, Request(), apply_);
  ASSERT_TRUE(r) << r.error().message();
  auto chains = store::ChainIds(Config(*r).diff_ids);
  ASSERT_EQ(chains.size(), 2u);
  struct stat st {};
  ASSERT_EQ(::lstat((store_->LayerDiffPath(chains[1]) + "/etc/hostname").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::Exists(store_->LayerDiffPath(chains[1]) + "/etc/keep"));
}

TEST_F(CommitTest, SameTreeAndEpochGiveTheSameImage) {
  Put("x", "hi\n");
  Put("d/y", "why\n");
  CommitRequest req = Request();
  req.source_date_epoch = kEpoch;
  auto first = CommitLayer(*store_, req, apply_);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(Config(*first).created, "2023-11-14T22:13:20Z");
  EXPECT_EQ(Config(*first).history.back().created, "2023-11-14T22:13:20Z");
  // Touched since (mtimes after the epoch are clamped), and committed into another store.
  ASSERT_EQ(std::system(("sleep 1; touch " + upper_ + "/x " + upper_ + "/d").c_str()), 0);
  auto other = store::Store::Open(dir_ / "other");
  ASSERT_TRUE(other);
  ImportRequest base{dir_ / "base.tar",
                     "example.com/base:1",
                     {"CMD [\"sh\"]", "ENV A=1"},
                     "",
                     Config(base_).created};
  ASSERT_TRUE(ImportImage(*other, base, apply_));
  auto second = CommitLayer(*other, req, apply_);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->config, first->config);
  EXPECT_EQ(second->manifest, first->manifest);
  // Again into the first store: the objects are there; the record is the same.
  auto again = CommitLayer(*store_, req, apply_);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->manifest, first->manifest);
  EXPECT_EQ(store_->Images()->size(), 2u);
}

TEST_F(CommitTest, EmptyUpperAddsOnlyHistoryUnlessAsked) {
  auto skipped = CommitLayer(*store_, Request(), apply_);
  ASSERT_TRUE(skipped) << skipped.error().message();
  oci::ImageConfig c = Config(*skipped);
  EXPECT_EQ(c.diff_ids, Config(base_).diff_ids);
  ASSERT_EQ(c.history.size(), 2u);
  EXPECT_TRUE(c.history[1].empty_layer);
  EXPECT_EQ(Manifest(*skipped).layers, Manifest(base_).layers);

  CommitRequest keep = Request();
  keep.reference = "example.com/committed:keep";
  keep.empty_layer = EmptyLayer::kKeep;
  auto kept = CommitLayer(*store_, keep, apply_);
  ASSERT_TRUE(kept) << kept.error().message();
  c = Config(*kept);
  ASSERT_EQ(c.diff_ids.size(), 2u);
  EXPECT_EQ(c.diff_ids[1], oci::Sha256Of(std::string(1024, '\0')));  // the empty tar
  EXPECT_FALSE(c.history[1].empty_layer);
  EXPECT_TRUE(store_->HasLayer(store::ChainIds(c.diff_ids)[1]));
}

TEST_F(CommitTest, ZstdAndScratch) {
  Put("only", "alone\n");
  CommitRequest req = Request();
  req.parent.clear();
  req.compression = unpack::Compression::kZstd;
  req.changes = {"CMD [\"/only\"]"};
  auto r = CommitLayer(*store_, req, apply_);
  ASSERT_TRUE(r) << r.error().message();
  oci::ImageConfig c = Config(*r);
  ASSERT_EQ(c.diff_ids.size(), 1u);
  EXPECT_EQ(c.os, "linux");
  EXPECT_EQ(c.config.cmd, std::vector<std::string>{"/only"});
  EXPECT_EQ(c.config.env, std::vector<std::string>{});
  oci::ImageManifest m = Manifest(*r);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.layers[0].media_type, oci::media_type::kOciLayerZstd);
  EXPECT_EQ(fs::ReadFile(store_->LayerDiffPath(c.diff_ids[0]) + "/only").value_or(""), "alone\n");
}

// Without a reference the record is named by the image ID; naming the image later replaces it.
TEST_F(CommitTest, UntaggedImageIsFoundByIdUntilNamed) {
  Put("x", "hi\n");
  CommitRequest req = Request();
  req.reference.clear();
  req.source_date_epoch = kEpoch;  // the same image when committed again below
  auto r = CommitLayer(*store_, req, apply_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->name, r->config.ToString());
  EXPECT_TRUE(store::IsUntaggedName(r->name));
  EXPECT_FALSE(store::IsUntaggedName("example.com/committed:1"));
  EXPECT_EQ(store_->Resolve(r->config.hex.substr(0, 12))->config, r->config);
  EXPECT_EQ(store_->Images()->size(), 2u);
  ASSERT_TRUE(store_->Tag(r->config.ToString(), "example.com/named:1"));
  auto images = store_->Images();
  ASSERT_TRUE(images);
  ASSERT_EQ(images->size(), 2u);  // the base and the named one
  for (const auto& i : *images) EXPECT_FALSE(store::IsUntaggedName(i.name)) << i.name;
  // The same image committed untagged again: it has a name, so no untagged record is added.
  auto again = CommitLayer(*store_, req, apply_);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->config, r->config);
  EXPECT_EQ(store_->Images()->size(), 2u);
}

TEST_F(CommitTest, BadRequestsFailBeforeWriting) {
  Put("x", "hi\n");
  CommitRequest req = Request();
  req.reference = "Bad Name";
  ExpectRefusedLeavingNothing(CommitLayer(*store_, req, apply_), "Bad Name");
  req = Request();
  req.changes = {"EXPOSE x"};
  ExpectRefusedLeavingNothing(CommitLayer(*store_, req, apply_), "EXPOSE");
  req = Request();
  req.parent = "example.com/nothing:1";
  ExpectRefusedLeavingNothing(CommitLayer(*store_, req, apply_), "example.com/nothing:1");
  req = Request();
  req.upper_dir = dir_ / "missing";
  ExpectRefusedLeavingNothing(CommitLayer(*store_, req, apply_), "missing");
}

// The tar fails after some entries are in the blob: an overlay redirect (a diff that is not
// self-contained) deep in the tree.
TEST_F(CommitTest, FailureWhileWritingTheLayerLeavesNothing) {
  Put("a/file", "first\n");
  ASSERT_TRUE(fs::MkdirAll(upper_ + "/z/moved"));
  const char value[] = "/elsewhere";
  if (::setxattr((upper_ + "/z/moved").c_str(), "user.overlay.redirect", value, sizeof value - 1,
                 0) != 0)
    GTEST_SKIP() << "user xattrs unsupported here";
  ExpectRefusedLeavingNothing(CommitLayer(*store_, Request(), apply_), "redirect");
}

// The blob, config and manifest are written before the layer is unpacked and refused (over the
// test's 1 MiB max-layer-size): none may stay.
TEST_F(CommitTest, FailureWhileUnpackingLeavesNothing) {
  std::string big(2 << 20, '\0');
  std::mt19937 rng(1);
  for (auto& ch : big) ch = static_cast<char>(rng());
  Put("big", big);
  ExpectRefusedLeavingNothing(CommitLayer(*store_, Request(), apply_), "limit of 1048576 bytes");
}

}  // namespace
}  // namespace berth::image
