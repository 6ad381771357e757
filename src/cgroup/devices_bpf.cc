#include "cgroup/devices_bpf.h"

#include <fmt/format.h>
#include <linux/bpf.h>

#include <algorithm>

#include "cgroup/plan.h"

namespace berth::cgroup {

namespace {

constexpr uint8_t kR0 = 0, kR1 = 1, kR2 = 2, kR3 = 3, kR4 = 4, kR5 = 5;
constexpr int32_t kAccessAll = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

BpfInsn LoadWord(uint8_t dst, uint8_t src, int16_t off) {
  return {BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0};
}
BpfInsn Alu32Imm(uint8_t op, uint8_t dst, int32_t imm) {
  return {static_cast<uint8_t>(BPF_ALU | op | BPF_K), dst, 0, 0, imm};
}
BpfInsn Mov32Reg(uint8_t dst, uint8_t src) { return {BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0}; }
// Jumps are emitted with offset 0 and patched once the block's length is known.
BpfInsn JneImm(uint8_t dst, int32_t imm) { return {BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm}; }
BpfInsn JneReg(uint8_t dst, uint8_t src) { return {BPF_JMP | BPF_JNE | BPF_X, dst, src, 0, 0}; }
BpfInsn Exit() { return {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}; }

int32_t AccessBits(const std::string& access) {
  int32_t bits = 0;
  for (char c : access) {
    if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
  }
  return bits;
}

}  // namespace

Result<std::vector<BpfInsn>> BuildDeviceFilter(const std::vector<oci::DeviceCgroupRule>& rules) {
  std::vector<BpfInsn> prog = {
      LoadWord(kR2, kR1, 0),      Alu32Imm(BPF_AND, kR2, 0xffff), LoadWord(kR3, kR1, 0),
      Alu32Imm(BPF_RSH, kR3, 16), LoadWord(kR4, kR1, 4),          LoadWord(kR5, kR1, 8),
  };
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const oci::DeviceCgroupRule& rule = *it;
    BERTH_CHECK(ValidateDeviceRule(rule), "building the device filter");
    std::vector<BpfInsn> block;
    if (rule.type == "c") block.push_back(JneImm(kR2, BPF_DEVCG_DEV_CHAR));
    if (rule.type == "b") block.push_back(JneImm(kR2, BPF_DEVCG_DEV_BLOCK));
    int32_t access = AccessBits(rule.access.empty() ? "rwm" : rule.access);
    if (access != kAccessAll) {
      // Every requested bit must be in the rule's access.
      block.push_back(Mov32Reg(kR1, kR3));
      block.push_back(Alu32Imm(BPF_AND, kR1, access));
      block.push_back(JneReg(kR1, kR3));
    }
    if (rule.major && *rule.major >= 0)
      block.push_back(JneImm(kR4, static_cast<int32_t>(*rule.major)));
    if (rule.minor && *rule.minor >= 0)
      block.push_back(JneImm(kR5, static_cast<int32_t>(*rule.minor)));
    bool unconditional = block.empty();
    block.push_back(Alu32Imm(BPF_MOV, kR0, rule.allow ? 1 : 0));
    block.push_back(Exit());
    // A failed check skips to the first instruction after this block.
    for (size_t i = 0; i < block.size(); ++i)
      if (block[i].code == (BPF_JMP | BPF_JNE | BPF_K) ||
          block[i].code == (BPF_JMP | BPF_JNE | BPF_X))
        block[i].off = static_cast<int16_t>(block.size() - i - 1);
    prog.insert(prog.end(), block.begin(), block.end());
    if (unconditional) return prog;  // earlier rules can never decide
  }
  prog.push_back(Alu32Imm(BPF_MOV, kR0, 0));
  prog.push_back(Exit());
  return prog;
}

std::string Disassemble(const std::vector<BpfInsn>& prog) {
  std::string out;
  for (const BpfInsn& i : prog) {
    std::string line;
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        line = fmt::format("r{} = *(u32 *)(r{} + {})", i.dst, i.src, i.off);
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        line = fmt::format("w{} &= {:#x}", i.dst, i.imm);
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        line = fmt::format("w{} >>= {}", i.dst, i.imm);
        break;
      case BPF_ALU | BPF_MOV | BPF_K:
        line = fmt::format("w{} = {}", i.dst, i.imm);
        break;
      case BPF_ALU | BPF_MOV | BPF_X:
        line = fmt::format("w{} = w{}", i.dst, i.src);
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        line = fmt::format("if r{} != {} goto +{}", i.dst, i.imm, i.off);
        break;
      case BPF_JMP | BPF_JNE | BPF_X:
        line = fmt::format("if r{} != r{} goto +{}", i.dst, i.src, i.off);
        break;
      case BPF_JMP | BPF_EXIT:
        line = "exit";
        break;
      default:
        line = fmt::format("code {:#04x} dst r{} src r{} off {} imm {}", i.code, i.dst, i.src,
                           i.off, i.imm);
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace berth::cgroup
