// `berth inspect IMAGE...`: a JSON array shaped like `docker image inspect`, plus the manifest.
#include <algorithm>
#include <cstdio>

#include "base/json.h"
#include "cli/image_common.h"

namespace berth::cli {
namespace {

Result<Json> Inspect(const store::Store& store, const std::string& image) {
  BERTH_TRY(store::ImageRecord rec, store.Resolve(image));
  BERTH_TRY(std::string cfg_bytes, store.ReadBlob(rec.config), "image {}", rec.name);
  BERTH_TRY(Json cfg, ParseJson(cfg_bytes, rec.config.ToString()));
  BERTH_TRY(std::string m_bytes, store.ReadBlob(rec.manifest), "image {}", rec.name);
  BERTH_TRY(Json manifest, ParseJson(m_bytes, rec.manifest.ToString()));
  BERTH_TRY(auto all, store.Images());
  Json tags = Json::array(), digests = Json::array();
  for (const auto& r : all) {
    if (r.config != rec.config) continue;
    ShortName n = ShortNameOf(r.name);
    if (n.tag != "<none>") tags.push_back(FamiliarName(r.name));
    if (!r.digest.empty()) {
      std::string d = n.repository + "@" + r.digest.ToString();
      if (std::find(digests.begin(), digests.end(), d) == digests.end()) digests.push_back(d);
    }
  }
  Json rootfs = cfg.value("rootfs", Json::object());
  return Json{{"Id", rec.config.ToString()},
              {"RepoTags", tags},
              {"RepoDigests", digests},
              {"Created", cfg.value("created", "")},
              {"Author", cfg.value("author", "")},
              {"Architecture", cfg.value("architecture", "")},
              {"Variant", cfg.value("variant", "")},
              {"Os", cfg.value("os", "")},
              {"Size", rec.size},
              {"Config", cfg.value("config", Json::object())},
              {"RootFS",
               {{"Type", rootfs.value("type", "layers")},
                {"Layers", rootfs.value("diff_ids", Json::array())}}},
              {"History", cfg.value("history", Json::array())},
              {"ManifestDigest", rec.manifest.ToString()},
              {"ManifestMediaType", rec.manifest_media_type},
              {"Manifest", manifest}};
}

int RunInspect(const GlobalOptions& g, const std::vector<std::string>& images) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  Json out = Json::array();
  int rc = 0;
  for (const auto& image : images) {
    auto j = Inspect(*store, image);
    if (!j) {
      rc = Fail(j.error());
      continue;
    }
    out.push_back(std::move(*j));
  }
  std::printf("%s\n", out.dump(4).c_str());
  return rc;
}

void AddInspect(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("inspect", "Show an image's config and manifest as JSON");
  auto images = std::make_shared<std::vector<std::string>>();
  c->add_option("image", *images, "Image names or IDs")->required();
  c->callback([&g, &action, images] { action = [&g, images] { return RunInspect(g, *images); }; });
}

}  // namespace

static const CommandRegistration kInspect(22, AddInspect);

}  // namespace berth::cli
