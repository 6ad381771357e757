// LoadImages against hostile archives, each made here: layers that are bombs (sparse, gzip),
// an archive whose second image is bad, an index naming one manifest thousands of times, and
// archives arriving through a FIFO and stdin. A refusal is one line naming what was wrong and
// leaves the store exactly as it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/fs.h"
#include "image/archive.h"
#include "image/local_input_test_util.h"
#include "oci/image_spec.h"

namespace berth::image {
namespace {

namespace ut = unpack::testing;
using testing::Owned;

std::string ConfigJson(const std::vector<oci::Digest>& diff_ids) {
  std::string ids;
  for (const auto& d : diff_ids) ids += (ids.empty() ? "\"" : ",\"") + d.ToString() + "\"";
  return fmt::format(
      R"({{"architecture":"{}","os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}}}})",
      oci::HostPlatform().architecture, ids);
}

std::string GoodLayer(const std::string& name) {
  return ut::MakeTar({Owned(ut::Dir("etc")), Owned(ut::File("etc/" + name, name + "\n"))});
}

// A layer whose last entry climbs out of the root.
std::string HostileLayer() {
  return ut::MakeTar({Owned(ut::Dir("etc")), Owned(ut::File("etc/ok", "ok\n")),
                      Owned(ut::File("../escaped", "gotcha\n"))});
}

// A docker-archive with one single-layer image per (tag, layer tar).
std::string DockerArchive(const std::vector<std::pair<std::string, std::string>>& images) {
  std::vector<ut::TarEntry> entries;
  std::string manifest = "[";
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& [tag, layer] = images[i];
    std::string config = ConfigJson({oci::Sha256Of(layer)});
    std::string config_name = oci::Sha256Of(config).hex + ".json";
    std::string layer_name = fmt::format("l{}/layer.tar", i);
    entries.push_back(ut::File(config_name, config));
    entries.push_back(ut::File(layer_name, layer));
    manifest += fmt::format(R"({}{{"Config":"{}","RepoTags":["{}"],"Layers":["{}"]}})",
                            i ? "," : "", config_name, tag, layer_name);
  }
  entries.insert(entries.begin(), ut::File("manifest.json", manifest + "]"));
  return ut::MakeTar(entries);
}

// An oci-archive with one image (one layer) that index.json names `names` times.
std::string OciArchive(size_t names) {
  std::string layer = GoodLayer("hostname");
  std::string config = ConfigJson({oci::Sha256Of(layer)});
  auto desc = [](std::string_view media_type, const std::string& data) {
    return fmt::format(R"({{"mediaType":"{}","digest":"{}","size":{}}})", media_type,
                       oci::Sha256Of(data).ToString(), data.size());
  };
  std::string manifest =
      fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}})",
                  oci::media_type::kOciManifest, desc(oci::media_type::kOciConfig, config),
                  desc(oci::media_type::kOciLayer, layer));
  std::string index = fmt::format(R"({{"schemaVersion":2,"manifests":[)");
  for (size_t i = 0; i < names; ++i)
    index += fmt::format(
        R"({}{{"mediaType":"{}","digest":"{}","size":{},"annotations":{{"io.containerd.image.name":"example.com/many:t{}"}}}})",
        i ? "," : "", oci::media_type::kOciManifest, oci::Sha256Of(manifest).ToString(),
        manifest.size(), i);
  index += "]}";
  std::vector<ut::TarEntry> entries = {ut::File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"),
                                       ut::File("index.json", index)};
  for (const std::string* blob : {&layer, &config, &manifest})
    entries.push_back(ut::File("blobs/sha256/" + oci::Sha256Of(*blob).hex, *blob));
  return ut::MakeTar(entries);
}

class ArchiveLoadTest : public testing::LocalInputTest {
 protected:
  // LoadImages(-) with stdin a pipe that a thread fills with `data`.
  Result<std::vector<store::ImageRecord>> LoadFromStdin(std::string data) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return SysError("pipe2");
    int saved = ::dup(STDIN_FILENO);
    ::dup2(p[0], STDIN_FILENO);
    ::close(p[0]);
    std::thread writer([fd = p[1], data = std::move(data)] {
      EXPECT_TRUE(fs::WriteAll(fd, data, "pipe"));
      ::close(fd);
    });
    auto r = LoadImages(*store_, "-", apply_);
    writer.join();
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
    return r;
  }

  std::string Write(const std::string& name, const std::string& data) {
    std::string path = dir_ / name;
    EXPECT_TRUE(fs::WriteFileAtomic(path, data));
    return path;
  }
};

TEST_F(ArchiveLoadTest, GoodArchiveLoads) {
  std::string path =
      Write("ok.tar", DockerArchive({{"a:1", GoodLayer("a")}, {"b:1", GoodLayer("b")}}));
  auto r = LoadImages(*store_, path, apply_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->size(), 2u);
  auto images = store_->Images();
  ASSERT_TRUE(images);
  EXPECT_EQ(images->size(), 2u);
}

// The first image is fine and would be stored on its own; the second one's layer climbs out of
// its root. Nothing of either may stay.
TEST_F(ArchiveLoadTest, SecondImageBadLeavesNothingOfTheFirst) {
  std::string path =
      Write("two.tar", DockerArchive({{"good:1", GoodLayer("good")}, {"bad:1", HostileLayer()}}));
  ExpectRefusedLeavingNothing(LoadImages(*store_, path, apply_), "../escaped");
}

TEST_F(ArchiveLoadTest, DigestMismatchInSecondImageLeavesNoBlobs) {
  std::string archive = DockerArchive({{"good:1", GoodLayer("good")}, {"bad:1", GoodLayer("bad")}});
  // Same length, other bytes: the second layer no longer matches its diff_id.
  size_t at = archive.find("bad\n");
  ASSERT_NE(at, std::string::npos);
  archive[at] = 'B';
  std::string path = Write("mismatch.tar", archive);
  ExpectRefusedLeavingNothing(LoadImages(*store_, path, apply_), "digest mismatch");
}

// A 10 KB archive whose layer.tar is a sparse 2 GiB file of zeros: refused after 1 MiB.
TEST_F(ArchiveLoadTest, SparseTwoGiBLayerIsRefusedWhileStreaming) {
  std::string files = dir_ / "files";
  ASSERT_TRUE(fs::MkdirAll(files));
  oci::Digest diff_id = oci::Sha256Of("whatever the zeros hash to");
  ASSERT_TRUE(fs::WriteFileAtomic(files + "/cfg.json", ConfigJson({diff_id})));
  ASSERT_TRUE(fs::WriteFileAtomic(
      files + "/manifest.json",
      R"([{"Config":"cfg.json","RepoTags":["sparse:1"],"Layers":["layer.tar"]}])"));
  std::string archive = dir_ / "sparse.tar";
  ASSERT_EQ(std::system(("cd " + files + " && truncate -s 2G layer.tar && tar -S -cf " + archive +
                         " manifest.json cfg.json layer.tar")
                            .c_str()),
            0);
  struct stat st {};
  ASSERT_EQ(::stat(archive.c_str(), &st), 0);
  EXPECT_LT(st.st_size, 64 << 10);
  auto start = std::chrono::steady_clock::now();
  ExpectRefusedLeavingNothing(LoadImages(*store_, archive, apply_),
                              "the uncompressed layer exceeds the limit of 1048576 bytes");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// A layer.tar that is ~1 MB of gzip inflating to 256 MiB.
TEST_F(ArchiveLoadTest, GzipBombLayerIsRefusedWhileStreaming) {
  std::string files = dir_ / "files";
  ASSERT_TRUE(fs::MkdirAll(files));
  ASSERT_TRUE(fs::WriteFileAtomic(files + "/cfg.json",
                                  ConfigJson({oci::Sha256Of("whatever the zeros hash to")})));
  ASSERT_TRUE(fs::WriteFileAtomic(
      files + "/manifest.json",
      R"([{"Config":"cfg.json","RepoTags":["bomb:1"],"Layers":["layer.tar"]}])"));
  std::string archive = dir_ / "bomb.tar";
  ASSERT_EQ(
      std::system(("cd " + files + " && head -c 256M /dev/zero | gzip -1 > layer.tar && tar -cf " +
                   archive + " manifest.json cfg.json layer.tar")
                      .c_str()),
      0);
  ExpectRefusedLeavingNothing(LoadImages(*store_, archive, apply_),
                              "the uncompressed layer exceeds the limit of 1048576 bytes");
}

// index.json naming one manifest 4,000 times loads in one pass over the names (it took 149 s
// when every name rewrote images.json); 12,000 names are over the cap of names and refused at
// once, and 20,000 make an index.json over its 4 MiB cap.
TEST_F(ArchiveLoadTest, OneManifestNamedThousandsOfTimes) {
  std::string many = Write("many.tar", OciArchive(4000));
  auto start = std::chrono::steady_clock::now();
  auto r = LoadImages(*store_, many, apply_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->size(), 4000u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  auto images = store_->Images();
  ASSERT_TRUE(images);
  EXPECT_EQ(images->size(), 4000u);

  TakeSnapshot();
  std::string too_many = Write("too-many.tar", OciArchive(12000));
  start = std::chrono::steady_clock::now();
  ExpectRefusedLeavingNothing(LoadImages(*store_, too_many, apply_),
                              "index.json lists 12000 images; berth loads at most 10000");
  std::string far_too_many = Write("far-too-many.tar", OciArchive(20000));
  ExpectRefusedLeavingNothing(LoadImages(*store_, far_too_many, apply_), "index.json is too large");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ArchiveLoadTest, LoadsFromAFifoReadingItOnce) {
  std::string fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string archive = ut::Gzip(DockerArchive({{"fifo:1", GoodLayer("fifo")}}));
  std::thread writer([&] {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // blocks until the load opens it
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(fs::WriteAll(fd, archive, fifo));
    ::close(fd);
  });
  auto r = LoadImages(*store_, fifo, apply_);
  writer.join();
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().name, "docker.io/library/fifo:1");
  auto tmp = fs::ListDir(store_->root() + "/tmp");
  ASSERT_TRUE(tmp);
  EXPECT_TRUE(tmp->empty());
}

TEST_F(ArchiveLoadTest, LoadsFromAPipeOnStdin) {
  auto r = LoadFromStdin(DockerArchive({{"stdin:1", GoodLayer("stdin")}}));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().name, "docker.io/library/stdin:1");
}

TEST_F(ArchiveLoadTest, RefusalThroughAPipeNamesStdin) {
  auto r = LoadFromStdin("this is not an archive at all");
  ExpectRefusedLeavingNothing(r, "stdin: ");
  EXPECT_TRUE(r.error().message().starts_with("stdin: ")) << r.error().message();
}

}  // namespace
}  // namespace berth::image
