// `berth inspect [--type container|image] NAME...`: a JSON array; containers are shaped like
// `docker container inspect` (tried first, as docker does), images like `docker image inspect`
// plus the manifest.
#include <algorithm>
#include <cstdio>

#include "base/json.h"
#include "cli/container_common.h"
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

int RunInspect(const GlobalOptions& g, const std::vector<std::string>& images,
               const std::string& type) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  engine::Containers containers(EnginePaths(g));
  Json out = Json::array();
  int rc = 0;
  for (const auto& image : images) {
    if (type != "image") {
      auto c = containers.Find(image);
      if (c) {
        out.push_back(ContainerInspectJson(containers, *c));
        continue;
      }
      if (type == "container") {
        rc = Fail(c.error());
        continue;
      }
    }
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
  auto* c =
      app.add_subcommand("inspect", "Show containers or images (config and manifest) as JSON");
  auto images = std::make_shared<std::vector<std::string>>();
  auto type = std::make_shared<std::string>();
  c->add_option("name", *images, "Container or image names or IDs")->required();
  c->add_option("--type", *type, "Only \"container\" or \"image\"")
      ->check(CLI::IsMember({"container", "image"}));
  c->callback([&g, &action, images, type] {
    action = [&g, images, type] { return RunInspect(g, *images, *type); };
  });
}

}  // namespace

static const CommandRegistration kInspect(22, AddInspect);

}  // namespace berth::cli
