// /etc/passwd and /etc/group lookups for `berth run -u` and --group-add, with runc's
// libcontainer/user semantics (which docker uses): the file contents come in as strings, so the
// rootfs is never read here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::engine {

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
  std::string home, shell;
  bool operator==(const PasswdEntry&) const = default;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
  bool operator==(const GroupEntry&) const = default;
};

// Lines "name:password:uid:gid:gecos:home:shell"; blank lines, comments and lines whose ids do
// not parse are skipped.
std::vector<PasswdEntry> ParsePasswd(std::string_view content);
// Lines "name:password:gid:member,member".
std::vector<GroupEntry> ParseGroup(std::string_view content);

struct ExecUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> sgids;  // supplementary groups: the user's memberships in /etc/group
  std::string home = "/";
  bool operator==(const ExecUser&) const = default;
};

// runc's GetExecUser: "" (root), "name", "uid", "name:group", "uid:gid", "name:gid"... A name
// must exist ("unable to find user bob: no matching entries in passwd file"); a numeric id
// need not. A matched user gets its passwd gid and, unless a group is given explicitly, the
// groups that list it as a member. Ids must be within 0..2147483647.
Result<ExecUser> ResolveUser(std::string_view spec, std::string_view passwd,
                             std::string_view group);

// runc's GetAdditionalGroups for --group-add: names or gids, names must exist; duplicates
// dropped, in the order given.
Result<std::vector<uint32_t>> ResolveGroups(const std::vector<std::string>& groups,
                                            std::string_view group);

}  // namespace berth::engine
