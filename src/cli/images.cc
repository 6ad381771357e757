// `berth images [-a] [--format json] [-q]`: the stored images, newest first, as `docker images`:
// without -a, untagged images that another image was made on (a build's steps) are left out.
#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <set>

#include "base/json.h"
#include "cli/image_common.h"
#include "image/intermediate.h"

namespace berth::cli {
namespace {

struct ImagesOpts {
  std::string format = "table";
  bool quiet = false;
  bool all = false;
};

// Leaves out docker's intermediate images (image/intermediate.h). A config that cannot be read
// keeps its image listed.
void DropIntermediates(const store::Store& store, std::vector<store::ImageRecord>& images) {
  std::vector<image::ListedImage> listed;
  for (const auto& r : images) {
    auto body = store.ReadBlob(r.config);
    if (!body) continue;
    auto config = oci::ParseImageConfig(*body, r.config.ToString());
    if (!config) continue;
    listed.push_back({r.config, !store::IsUntaggedName(r.name), std::move(*config)});
  }
  std::set<oci::Digest> hidden = image::IntermediateImages(listed);
  std::erase_if(images, [&](const store::ImageRecord& r) {
    return store::IsUntaggedName(r.name) && hidden.contains(r.config);
  });
}

int RunImages(const GlobalOptions& g, const ImagesOpts& o) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  auto images = store->Images();
  if (!images) return Fail(images.error());
  if (!o.all) DropIntermediates(*store, *images);
  std::stable_sort(images->begin(), images->end(),
                   [](const store::ImageRecord& a, const store::ImageRecord& b) {
                     auto ta = ParseRfc3339(a.created).value_or(0);
                     auto tb = ParseRfc3339(b.created).value_or(0);
                     return ta > tb;
                   });
  if (o.quiet) {
    std::set<std::string> seen;
    for (const auto& r : *images) {
      std::string id = r.config.hex.substr(0, 12);
      if (seen.insert(id).second) std::printf("%s\n", id.c_str());
    }
    return 0;
  }
  if (o.format == "json") {
    Json out = Json::array();
    for (const auto& r : *images) {
      ShortName n = ShortNameOf(r.name);
      out.push_back({{"Repository", n.repository},
                     {"Tag", n.tag},
                     {"ID", r.config.ToString()},
                     {"Name", r.name},
                     {"Digest", r.digest.empty() ? std::string() : r.digest.ToString()},
                     {"Manifest", r.manifest.ToString()},
                     {"Platform", r.platform},
                     {"Created", r.created},
                     {"Size", r.size}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::vector<std::array<std::string, 5>> rows;
  rows.push_back({"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"});
  std::time_t now = std::time(nullptr);
  for (const auto& r : *images) {
    ShortName n = ShortNameOf(r.name);
    rows.push_back({n.repository, n.tag, r.config.hex.substr(0, 12), HumanAgo(r.created, now),
                    HumanSize(static_cast<double>(r.size))});
  }
  std::array<size_t, 5> width{};
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 3, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

void AddImages(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("images", "List images");
  auto o = std::make_shared<ImagesOpts>();
  c->add_option("--format", o->format, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  c->add_flag("-q,--quiet", o->quiet, "Print only image IDs");
  c->add_flag("-a,--all", o->all,
              "Show all images (by default untagged images another image was built on, such as "
              "a build's steps, are left out)");
  c->callback([&g, &action, o] { action = [&g, o] { return RunImages(g, *o); }; });
}

}  // namespace

static const CommandRegistration kImages(21, AddImages);

}  // namespace berth::cli
