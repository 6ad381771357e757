#include "net/nft.h"

#include <nftables/libnftables.h>

#include <memory>

#include "base/strings.h"

namespace berth::net {
namespace {

struct CtxDeleter {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};
using Ctx = std::unique_ptr<nft_ctx, CtxDeleter>;

Result<Ctx> NewCtx(unsigned output_flags) {
  Ctx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return MakeError("nft_ctx_new: out of memory");
  nft_ctx_output_set_flags(ctx.get(), output_flags);
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0)
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
  if (nft_run_cmd_from_buffer(ctx.get(), buf.c_str()) != 0) {
    std::string first = str::Split(buf, '\n')[0];
    std::string err = FirstLine(nft_ctx_get_error_buffer(ctx.get()));
    if (err.empty()) err = "failed";
    return MakeError("nft {}: {}", first, err);
  }
  const char* out = nft_ctx_get_output_buffer(ctx.get());
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
