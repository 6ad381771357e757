// Giving a layer's files the owners recorded for them (apply.h: kOwnerXattr).
//
// An unprivileged unpack cannot chown, so it records the tar's owner and mode. A user with
// subordinate ids can give those owners in its user namespace, where the container's ids are
// mapped (engine/rootless.h): run there, GiveRecordedOwners makes the layer what a root unpack
// makes. Each file and directory whose record names an owner and group the namespace maps gets
// them (lchown), then its recorded mode again (chown clears setuid and setgid), and loses the
// record. The rest keep their records: ids the namespace does not map, and device nodes'
// stand-ins (only root makes device nodes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "unpack/apply.h"
#include "unpack/diff.h"

namespace berth::unpack {

// Whether `r` is given where `uids` and `gids` are mapped (their container_id..+size ranges):
// not a device's record, and both its ids mapped. Pure.
bool CanGiveOwner(const RecordedOwner& r, const std::vector<IdRange>& uids,
                  const std::vector<IdRange>& gids);

struct GivenOwners {
  uint64_t given = 0;  // records given and removed
  uint64_t kept = 0;   // records left (CanGiveOwner false, or not parsing)
  bool operator==(const GivenOwners&) const = default;
};

// Walks `dir` (itself included; symlinks are not followed, other file systems not entered) and
// gives each record that CanGiveOwner allows, as the file comment says. Needs the right to chown
// to those ids: root in the namespace. Errors name the call and the path.
[[nodiscard]] Result<GivenOwners> GiveRecordedOwners(const std::string& dir,
                                                     const std::vector<IdRange>& uids,
                                                     const std::vector<IdRange>& gids);

}  // namespace berth::unpack
