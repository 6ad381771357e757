// The floor under `berth pull` on this machine: for each gzip layer blob already on disk, the
// work no correct pull can skip (sha256 of the compressed bytes, inflate, sha256 of the tar),
// layers in parallel as berth does, no files written. bench/pull.py runs it on the registry's
// own blob files (page-cached, as the registry serves them).
//
//   limit [--jobs N] [--extract DIR] BLOB...
//       prints {"seconds": S, "compressed": B, "uncompressed": B}
//
// With --extract, each layer's tar also goes through a pipe into GNU tar (`tar -x` as root
// does it: owners, modes, xattrs) in DIR/<n>: the floor of a pull that writes the files with
// the standard tool, still without the network or keeping the blob.
//
// Per layer, the compressed hash runs on its own thread beside inflate + tar hash (reading the
// file twice from the page cache costs nothing measurable), which is the most parallelism one
// gzip stream allows.
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "oci/digest.h"

namespace {

constexpr size_t kBuf = 1 << 20;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "limit: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

int OpenOrDie(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Die("open(" + path + ")");
  return fd;
}

size_t ReadSome(int fd, uint8_t* buf, const std::string& path) {
  ssize_t n = ::read(fd, buf, kBuf);
  if (n < 0) Die("read(" + path + ")");
  return static_cast<size_t>(n);
}

uint64_t HashFile(const std::string& path) {
  int fd = OpenOrDie(path);
  std::vector<uint8_t> buf(kBuf);
  berth::oci::Sha256Hasher h;
  uint64_t total = 0;
  while (size_t n = ReadSome(fd, buf.data(), path)) {
    h.Update(buf.data(), n);
    total += n;
  }
  ::close(fd);
  h.Finish();
  return total;
}

// Inflates every gzip member of the file, hashing the output (and writing it to `out` unless
// it is -1); returns the uncompressed size.
uint64_t InflateAndHash(const std::string& path, int sink = -1) {
  int fd = OpenOrDie(path);
  std::vector<uint8_t> in(kBuf), out(kBuf);
  auto st = std::make_unique<inflate_state>();
  isal_inflate_init(st.get());
  st->crc_flag = ISAL_GZIP;
  berth::oci::Sha256Hasher h;
  uint64_t total = 0;
  bool eof = false;
  for (;;) {
    if (st->avail_in == 0 && !eof) {
      size_t n = ReadSome(fd, in.data(), path);
      eof = n == 0;
      st->next_in = in.data();
      st->avail_in = static_cast<uint32_t>(n);
    }
    if (st->block_state == ISAL_BLOCK_FINISH) {
      if (st->avail_in == 0 && eof) break;
      uint8_t* next = st->next_in;
      uint32_t avail = st->avail_in;
      isal_inflate_init(st.get());
      st->crc_flag = ISAL_GZIP;
      st->next_in = next;
      st->avail_in = avail;
      if (avail == 0) continue;
    }
    st->next_out = out.data();
    st->avail_out = static_cast<uint32_t>(out.size());
    int rc = isal_inflate(st.get());
    if (rc < 0) {
      std::fprintf(stderr, "limit: %s: isal_inflate returned %d\n", path.c_str(), rc);
      std::exit(1);
    }
    size_t produced = out.size() - st->avail_out;
    h.Update(out.data(), produced);
    if (sink >= 0) {
      auto w = berth::fs::WriteAll(
          sink, std::string_view(reinterpret_cast<const char*>(out.data()), produced), "tar's stdin");
      if (!w) {
        std::fprintf(stderr, "limit: %s\n", w.error().message().c_str());
        std::exit(1);
      }
    }
    total += produced;
    if (produced == 0 && st->avail_in == 0 && eof && st->block_state != ISAL_BLOCK_FINISH) {
      std::fprintf(stderr, "limit: %s: truncated gzip stream\n", path.c_str());
      std::exit(1);
    }
  }
  ::close(fd);
  h.Finish();
  return total;
}

// GNU tar extracting its stdin into `dir`; returns its pid and the pipe's write end.
std::pair<pid_t, int> SpawnTar(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) Die("mkdir(" + dir + ")");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) Die("pipe2");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
  const char* argv[] = {"tar", "-x", "-f", "-", "-C", dir.c_str(), "--same-owner",
                        "--numeric-owner", "-p", "--xattrs", "--xattrs-include=*", nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "tar", &fa, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    Die("spawning tar");
  }
  ::close(fds[0]);
  return {pid, fds[1]};
}

void WaitTar(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) Die("waitpid(tar)");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "limit: tar -x failed (status %d)\n", status);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t jobs = 4;
  std::string extract;
  std::vector<std::string> blobs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--jobs" && i + 1 < argc) {
      jobs = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--extract" && i + 1 < argc) {
      extract = argv[++i];
    } else {
      blobs.push_back(a);
    }
  }
  if (blobs.empty() || jobs == 0) {
    std::fprintf(stderr, "usage: limit [--jobs N] [--extract DIR] BLOB...\n");
    return 2;
  }
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> compressed{0}, uncompressed{0};
  auto t0 = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (size_t i; (i = next++) < blobs.size();) {
      std::thread hasher([&, i] { compressed += HashFile(blobs[i]); });
      if (extract.empty()) {
        uncompressed += InflateAndHash(blobs[i]);
      } else {
        auto [pid, sink] = SpawnTar(extract + "/" + std::to_string(i));
        uncompressed += InflateAndHash(blobs[i], sink);
        ::close(sink);
        WaitTar(pid);
      }
      hasher.join();
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(jobs, blobs.size()); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"seconds\": %.4f, \"compressed\": %llu, \"uncompressed\": %llu}\n", s,
              static_cast<unsigned long long>(compressed.load()),
              static_cast<unsigned long long>(uncompressed.load()));
  return 0;
}
