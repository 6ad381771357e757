#include "engine/user_db.h"

#include <algorithm>

#include "base/strings.h"

namespace berth::engine {
namespace {

constexpr int64_t kMaxId = 2147483647;

std::vector<std::string_view> Lines(std::string_view content) {
  std::vector<std::string_view> out;
  while (!content.empty()) {
    auto nl = content.find('\n');
    std::string_view line = str::Trim(content.substr(0, nl));
    if (!line.empty() && line.front() != '#') out.push_back(line);
    if (nl == std::string_view::npos) break;
    content.remove_prefix(nl + 1);
  }
  return out;
}

std::optional<uint32_t> Id(std::string_view s) {
  auto n = str::ParseInt(s);
  if (!n || *n < 0 || *n > kMaxId) return std::nullopt;
  return static_cast<uint32_t>(*n);
}

}  // namespace

std::vector<PasswdEntry> ParsePasswd(std::string_view content) {
  std::vector<PasswdEntry> out;
  for (auto line : Lines(content)) {
    auto f = str::Split(line, ':');
    f.resize(std::max<size_t>(f.size(), 7));
    auto uid = Id(f[2]), gid = Id(f[3]);
    if (!uid || !gid) continue;
    out.push_back({f[0], *uid, *gid, f[5], f[6]});
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(std::string_view content) {
  std::vector<GroupEntry> out;
  for (auto line : Lines(content)) {
    auto f = str::Split(line, ':');
    f.resize(std::max<size_t>(f.size(), 4));
    auto gid = Id(f[2]);
    if (!gid) continue;
    GroupEntry g{f[0], *gid, {}};
    if (!f[3].empty())
      for (auto& m : str::Split(f[3], ','))
        if (!m.empty()) g.members.push_back(m);
    out.push_back(std::move(g));
  }
  return out;
}

Result<ExecUser> ResolveUser(std::string_view spec, std::string_view passwd,
                             std::string_view group) {
  ExecUser user;
  auto colon = spec.find(':');
  std::string_view user_arg = spec.substr(0, colon);
  std::string_view group_arg = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  // Extra ":" parts are ignored, as runc's parseLine does.
  if (auto c = group_arg.find(':'); c != std::string_view::npos) group_arg = group_arg.substr(0, c);
  auto uid_arg = str::ParseInt(user_arg);
  auto gid_arg = str::ParseInt(group_arg);

  auto users = ParsePasswd(passwd);
  auto match = std::find_if(users.begin(), users.end(), [&](const PasswdEntry& u) {
    if (user_arg.empty()) return u.uid == 0;
    if (uid_arg) return static_cast<int64_t>(u.uid) == *uid_arg;
    return u.name == user_arg;
  });
  std::string matched_name;
  if (match != users.end()) {
    matched_name = match->name;
    user.uid = match->uid;
    user.gid = match->gid;
    user.home = match->home;
  } else if (!user_arg.empty()) {
    if (!uid_arg)
      return MakeError(ErrorKind::kInvalidArgument,
                       "unable to find user {}: no matching entries in passwd file", user_arg);
    if (*uid_arg < 0 || *uid_arg > kMaxId)
      return MakeError(ErrorKind::kInvalidArgument, "user {}: uids and gids must be in range 0-{}",
                       user_arg, kMaxId);
    user.uid = static_cast<uint32_t>(*uid_arg);
  }

  if (group_arg.empty() && matched_name.empty()) return user;
  auto groups = ParseGroup(group);
  if (!group_arg.empty()) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const GroupEntry& e) {
      if (gid_arg) return static_cast<int64_t>(e.gid) == *gid_arg;
      return e.name == group_arg;
    });
    if (g != groups.end()) {
      user.gid = g->gid;
    } else if (!gid_arg) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "unable to find group {}: no matching entries in group file", group_arg);
    } else if (*gid_arg < 0 || *gid_arg > kMaxId) {
      return MakeError(ErrorKind::kInvalidArgument, "group {}: uids and gids must be in range 0-{}",
                       group_arg, kMaxId);
    } else {
      user.gid = static_cast<uint32_t>(*gid_arg);
    }
    return user;
  }
  for (const auto& g : groups)
    if (std::find(g.members.begin(), g.members.end(), matched_name) != g.members.end())
      user.sgids.push_back(g.gid);
  return user;
}

Result<std::vector<uint32_t>> ResolveGroups(const std::vector<std::string>& wanted,
                                            std::string_view group) {
  auto groups = ParseGroup(group);
  std::vector<uint32_t> out;
  for (const auto& w : wanted) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const GroupEntry& e) {
      return e.name == w || std::to_string(e.gid) == w;
    });
    uint32_t gid = 0;
    if (g != groups.end()) {
      gid = g->gid;
    } else {
      auto n = str::ParseInt(w);
      if (!n)
        return MakeError(ErrorKind::kInvalidArgument,
                         "--group-add {}: unable to find group {}: no matching entries in group "
                         "file",
                         w, w);
      if (*n < 0 || *n > kMaxId)
        return MakeError(ErrorKind::kInvalidArgument,
                         "--group-add {}: uids and gids must be in range 0-{}", w, kMaxId);
      gid = static_cast<uint32_t>(*n);
    }
    if (std::find(out.begin(), out.end(), gid) == out.end()) out.push_back(gid);
  }
  return out;
}

}  // namespace berth::engine
