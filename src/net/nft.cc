#include "net/nft.h"

#include <dlfcn.h>
#include <nftables/libnftables.h>

#include <memory>

#include "base/strings.h"

namespace berth::net {
namespace {

// libnftables is opened on first use, not linked. The runtime and the per-container monitor
// live in the slim `berth` executable, which starts for every container; linking libnftables
// would map it and the five libraries it needs (libnftnl, libmnl, libxtables, libjansson,
// libgmp) into every one of those starts, and into every monitor's memory for the container's
// whole life, for the moments when rules change.
struct NftLib {
  decltype(&nft_ctx_new) ctx_new;
  decltype(&nft_ctx_free) ctx_free;
  decltype(&nft_ctx_output_set_flags) output_set_flags;
  decltype(&nft_ctx_buffer_output) buffer_output;
  decltype(&nft_ctx_buffer_error) buffer_error;
  decltype(&nft_run_cmd_from_buffer) run_cmd_from_buffer;
  decltype(&nft_ctx_get_output_buffer) get_output_buffer;
  decltype(&nft_ctx_get_error_buffer) get_error_buffer;
};

constexpr const char* kNftSoname = "libnftables.so.1";

// Loaded once per process; the handle is never closed.
Result<const NftLib*> Lib() {
  static const Result<NftLib> lib = []() -> Result<NftLib> {
    void* h = ::dlopen(kNftSoname, RTLD_NOW | RTLD_LOCAL);
    if (!h) return MakeError("loading {} (Debian package libnftables1): {}", kNftSoname, ::dlerror());
    NftLib l{};
    bool ok = true;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
      ok = ok && fn != nullptr;
    };
    sym(l.ctx_new, "nft_ctx_new");
    sym(l.ctx_free, "nft_ctx_free");
    sym(l.output_set_flags, "nft_ctx_output_set_flags");
    sym(l.buffer_output, "nft_ctx_buffer_output");
    sym(l.buffer_error, "nft_ctx_buffer_error");
    sym(l.run_cmd_from_buffer, "nft_run_cmd_from_buffer");
    sym(l.get_output_buffer, "nft_ctx_get_output_buffer");
    sym(l.get_error_buffer, "nft_ctx_get_error_buffer");
    if (!ok) return MakeError("{} lacks a function berth needs: {}", kNftSoname, ::dlerror());
    return l;
  }();
  if (!lib) return Unexpected(lib.error());
  return &*lib;
}

struct CtxDeleter {
  const NftLib* lib;
  void operator()(nft_ctx* c) const { lib->ctx_free(c); }
};
using Ctx = std::unique_ptr<nft_ctx, CtxDeleter>;

Result<Ctx> NewCtx(unsigned output_flags) {
  BERTH_TRY(const NftLib* lib, Lib());
  Ctx ctx(lib->ctx_new(NFT_CTX_DEFAULT), CtxDeleter{lib});
  if (!ctx) return MakeError("nft_ctx_new: out of memory");
  lib->output_set_flags(ctx.get(), output_flags);
  if (lib->buffer_output(ctx.get()) != 0 || lib->buffer_error(ctx.get()) != 0)
    return MakeError("nft_ctx_buffer_output: out of memory");
  return ctx;
}

// nft's error buffer holds "Error: ...\n<the command>\n   ^^^^\n": keep the first line.
std::string FirstLine(const char* text) {
  std::string s = text ? text : "";
  auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return std::string(str::Trim(s));
}

Result<std::string> Run(std::string_view commands, unsigned flags) {
  BERTH_TRY(Ctx ctx, NewCtx(flags));
  std::string buf(commands);
  const NftLib* lib = ctx.get_deleter().lib;
  if (lib->run_cmd_from_buffer(ctx.get(), buf.c_str()) != 0) {
    std::string first = str::Split(buf, '\n')[0];
    std::string err = FirstLine(lib->get_error_buffer(ctx.get()));
    if (err.empty()) err = "failed";
    return MakeError("nft {}: {}", first, err);
  }
  const char* out = lib->get_output_buffer(ctx.get());
  return std::string(out ? out : "");
}

}  // namespace

Result<void> NftRun(std::string_view commands) {
  BERTH_CHECK(Run(commands, 0));
  return {};
}

Result<Json> NftListJson(std::string_view command) {
  BERTH_TRY(std::string out, Run(command, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE));
  return ParseJson(out, "nft -j output");
}

Result<bool> NftTableExists(std::string_view table) {
  BERTH_TRY(Json j, NftListJson("list tables ip"));
  if (!j.contains("nftables")) return false;
  for (const Json& item : j["nftables"])
    if (item.contains("table") && item["table"].value("name", "") == table) return true;
  return false;
}

}  // namespace berth::net
