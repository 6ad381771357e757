// The cgroup backends in one include: hierarchy detection and paths, limit plans, the v2 device
// filter, statistics and the per-container Manager.
#pragma once

#include "cgroup/devices_bpf.h"  // IWYU pragma: export
#include "cgroup/hierarchy.h"    // IWYU pragma: export
#include "cgroup/manager.h"      // IWYU pragma: export
#include "cgroup/plan.h"         // IWYU pragma: export
#include "cgroup/stats.h"        // IWYU pragma: export
#include "cgroup/sys.h"          // IWYU pragma: export
