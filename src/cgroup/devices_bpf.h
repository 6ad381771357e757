// Device rules as a BPF_PROG_TYPE_CGROUP_DEVICE program, for cgroup v2 which has no devices.*
// files. Pure: building the program touches nothing; sys.h loads and attaches it.
//
// Semantics are those of the v1 devices controller after "devices.deny a" followed by the rules
// in order, as crun's ebpf code does it: the *last* rule that matches an access decides, and an
// access no rule matches is denied. The program checks the rules from last to first and returns
// at the first match; code after a rule that matches everything is never emitted (the verifier
// rejects unreachable instructions).
//
// Layout (runc's devicefilter register use; ctx is struct bpf_cgroup_dev_ctx):
//   r2 = ctx->access_type & 0xffff        device type (BPF_DEVCG_DEV_CHAR/BLOCK)
//   r3 = ctx->access_type >> 16           requested access (BPF_DEVCG_ACC_*)
//   r4 = ctx->major, r5 = ctx->minor
//   per rule:  if r2 != type goto next                      (omitted for type "a")
//              r1 = r3; r1 &= access; if r1 != r3 goto next (omitted for "rwm")
//              if r4 != major goto next                     (omitted for a wildcard)
//              if r5 != minor goto next                     (omitted for a wildcard)
//              r0 = allow; exit
//   r0 = 0; exit
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "oci/runtime_spec.h"

namespace berth::cgroup {

// One eBPF instruction, laid out as the kernel's struct bpf_insn once encoded.
struct BpfInsn {
  uint8_t code = 0;
  uint8_t dst = 0;
  uint8_t src = 0;
  int16_t off = 0;
  int32_t imm = 0;
  bool operator==(const BpfInsn&) const = default;
};

// Builds the filter for rules in spec order. Errors on an invalid rule (type, access, range).
Result<std::vector<BpfInsn>> BuildDeviceFilter(const std::vector<oci::DeviceCgroupRule>& rules);

// A readable listing, one instruction a line ("r2 = *(u32 *)(r1 + 0)", "if r4 != 1 goto +2"):
// for tests and for error messages when the verifier refuses a program.
std::string Disassemble(const std::vector<BpfInsn>& prog);

}  // namespace berth::cgroup
