// The store's access for an unprivileged user (engine/rootless.h: StoreAccessForThisUser,
// WriteLayerTarInUserNamespace). A file of its own: it reads and writes layers (unpack's tar
// code, libarchive), which the slim `berth` executable (the runtime and the monitor, linked
// with the rest of the engine) must not load at each start.
#include <fcntl.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "engine/rootless.h"
#include "unpack/owners.h"

namespace berth::engine {

Result<void> WriteLayerTarInUserNamespace(const std::string& upper_dir, unpack::ByteSink& sink,
                                          const unpack::DiffOptions& options) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return SysError("pipe2");
  UniqueFd rd(p[0]), wr(p[1]);
  unpack::DiffOptions inside = options;
  inside.uid_map.clear();
  inside.gid_map.clear();
  // InUserNamespace waits for its child: it runs on a thread while this one drains the pipe.
  Result<std::string> written;
  std::thread writer([&] {
    written = InUserNamespace([&]() -> Result<std::string> {
      rd.reset();  // the child's copy: once the reader gives up, writes fail (EPIPE)
      unpack::FdSink out(wr.get(), "the layer tar's pipe");
      BERTH_CHECK(unpack::WriteLayerTar(upper_dir, out, inside));
      return std::string();
    });
    wr.reset();  // the end of the tar
  });
  Result<void> copied;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(rd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) copied = SysError("read(the layer tar's pipe)");
    if (n <= 0) break;
    copied = sink.Write(std::string_view(buf.data(), static_cast<size_t>(n)));
    if (!copied) break;
  }
  rd.reset();
  writer.join();
  BERTH_CHECK(copied);
  BERTH_CHECK(written, "reading {} in this user's namespace", upper_dir);
  return {};
}

store::StoreAccess StoreAccessForThisUser() {
  store::StoreAccess access;
  if (!Rootless()) return access;
  access.remove_tree = RemoveTree;
  CommitIds ids = CommitIdsForThisUser();
  if (ids.uid_map.size() < 2) return access;  // no subordinate range: nothing more to give
  access.finish_layer = [uids = ids.uid_map,
                         gids = ids.gid_map](const std::string& dir) -> Result<void> {
    BERTH_TRY(std::string done, InUserNamespace([&]() -> Result<std::string> {
                BERTH_CHECK(unpack::GiveRecordedOwners(dir, uids, gids));
                return std::string();
              }),
              "giving the files of {} their recorded owners", dir);
    return {};
  };
  access.write_layer_tar = WriteLayerTarInUserNamespace;
  return access;
}

}  // namespace berth::engine
