// docker run --gpus: the value's syntax and meaning, as docker's CLI (opts/gpus.go) parses it and
// docker's daemon (daemon/nvidia_linux.go) reads it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::gpu {

// One --gpus value: docker's container.DeviceRequest for the GPU driver.
struct GpuRequest {
  // How many GPUs: the first `count` indexes (0..count-1). -1 = all (docker's daemon reads any
  // negative count as all; the parser stores -1). 0 = none (the container gets
  // NVIDIA_VISIBLE_DEVICES=void). Ignored when device_ids is set (then count is 0).
  int count = 0;
  // device=...: GPU indexes, GPU-UUIDs, MIG-UUIDs or GPU:MIG indexes, exactly as given (split on
  // ','; "device=" gives one empty id, as docker's strings.Split does).
  std::vector<std::string> device_ids;
  // capabilities=...: docker's single AND-set, the given names followed by "gpu"; {"gpu"} when
  // not given.
  std::vector<std::string> capabilities = {"gpu"};
  std::string driver;                          // driver=...; empty: whichever driver matches
  std::map<std::string, std::string> options;  // options=k=v,k2 ("k2" -> "")
  bool operator==(const GpuRequest&) const = default;
};

// Parses one --gpus value: a single CSV record (Go encoding/csv: fields may be double-quoted,
// "" inside quotes is a quote, so '"capabilities=compute,utility",device=1' keeps the comma).
// Fields: count=N|all, device=LIST, capabilities=LIST, driver=NAME, options=CSV of k=v; a field
// without '=' is a count ("all", "2"). Neither count nor device: count 1. Errors carry docker's
// text (the CLI adds `invalid argument "..." for "--gpus" flag: `):
//   `invalid count (x): value must be either "all" or an integer: invalid syntax`
//   `unexpected key 'foo' in 'foo=1'`, `gpu request key 'count' can be specified only once`,
//   `parse error on line 1, column 3: bare " in non-quoted field`, `EOF` (an empty value),
//   `cannot set both Count and DeviceIDs on device request` (docker's daemon refuses this at
//   start; berth refuses it here).
Result<GpuRequest> ParseGpusFlag(std::string_view value);

// The request written back as a --gpus value that parses to the same request (for handing it to
// another berth process): "count=all", "\"device=0,2\",\"capabilities=compute,utility\"".
std::string FormatGpusFlag(const GpuRequest& request);

// Go's encoding/csv Reader.Read with default settings: the first record of `text`, or its
// error ("EOF" when there is none). Exposed for tests.
Result<std::vector<std::string>> ReadCsvRecord(std::string_view text);

}  // namespace berth::gpu
