#include "build/cache_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "base/fs.h"
#include "base/json.h"

namespace berth::build {
namespace {

void Net(std::string& out, std::string_view x) {
  out += std::to_string(x.size());
  out += ':';
  out += x;
  out += ',';
}

void NetNum(std::string& out, uint64_t n) { Net(out, std::to_string(n)); }

std::string_view Bool(bool b) { return b ? "1" : "0"; }

std::string Octal4(uint32_t mode) { return fmt::format("{:04o}", mode & 07777); }

std::string_view TypeLetter(EntryType t) {
  switch (t) {
    case EntryType::kRegular:
      return "f";
    case EntryType::kDirectory:
      return "d";
    case EntryType::kSymlink:
      return "l";
    case EntryType::kFifo:
      return "p";
    case EntryType::kCharDevice:
      return "c";
    case EntryType::kBlockDevice:
      return "b";
  }
  return "?";
}

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

FileStamp StampOf(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_size), Nanos(st.st_mtim), st.st_ino, Nanos(st.st_ctim)};
}

int64_t RealtimeNs() {
  struct timespec t {};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return Nanos(t);
}

}  // namespace

StepText StepTextOf(const Instruction& ins) {
  StepText s;
  s.keyword = ins.keyword;
  s.json = ins.json;
  s.args = ins.args;
  s.flags = ins.flags;
  s.heredocs = ins.heredocs;
  return s;
}

std::string EncodeStep(const StepText& step) {
  std::string out;
  Net(out, step.keyword);
  Net(out, step.json ? "json" : "shell");
  NetNum(out, step.args.size());
  for (const std::string& a : step.args) Net(out, a);
  NetNum(out, step.flags.size());
  for (const Flag& f : step.flags) {
    Net(out, f.name);
    Net(out, f.value);
  }
  NetNum(out, step.heredocs.size());
  for (const Heredoc& h : step.heredocs) {
    Net(out, h.name);
    Net(out, h.content);
    Net(out, Bool(h.expand));
    Net(out, Bool(h.chomp));
    NetNum(out, h.fd);
  }
  NetNum(out, step.env.size());
  for (const auto& [k, v] : step.env) {  // a std::map: sorted by name
    Net(out, k);
    Net(out, v);
  }
  return out;
}

oci::Digest StepKey(std::string_view parent, const StepText& step, std::string_view inputs) {
  std::string out;
  Net(out, "berth.build.step.v1");
  Net(out, parent);
  Net(out, EncodeStep(step));
  Net(out, inputs);
  return oci::Sha256Of(out);
}

Result<MetadataCache> MetadataCache::Load(const std::string& file) {
  MetadataCache cache;
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) return cache;
    return SysError("open({})", file);
  }
  auto text = fs::ReadRegularFd(fd.get(), kMaxFileBytes, file);
  if (!text) return cache;  // not a regular file, or too large: start over
  auto json = ParseJson(*text, file);
  if (!json || !json->is_object() || json->value("version", 0) != 1) return cache;
  try {
    for (const auto& [path, e] : json->at("files").items()) {
      auto digest = oci::Digest::Parse(e.at("digest").get<std::string>());
      if (!digest) return MetadataCache();
      FileStamp stamp{e.at("size").get<uint64_t>(), e.at("mtime_ns").get<int64_t>(),
                      e.at("ino").get<uint64_t>(), e.at("ctime_ns").get<int64_t>()};
      cache.entries_.emplace(path, Entry{stamp, std::move(*digest)});
    }
  } catch (const Json::exception&) {
    return MetadataCache();  // a field missing or of the wrong type: start over
  }
  return cache;
}

Result<void> MetadataCache::Save(const std::string& file) const {
  Json files = Json::object();
  for (const auto& [path, e] : entries_) {
    files[path] = Json{{"size", e.stamp.size},
                       {"mtime_ns", e.stamp.mtime_ns},
                       {"ino", e.stamp.ino},
                       {"ctime_ns", e.stamp.ctime_ns},
                       {"digest", e.digest.ToString()}};
  }
  Json doc{{"version", 1}, {"files", std::move(files)}};
  return fs::WriteFileAtomic(file, doc.dump(), 0600, /*durable=*/false);
}

std::optional<oci::Digest> MetadataCache::Lookup(const std::string& path,
                                                 const FileStamp& stamp) const {
  auto it = entries_.find(path);
  if (it == entries_.end() || it->second.stamp != stamp) return std::nullopt;
  return it->second.digest;
}

bool MetadataCache::Store(const std::string& path, const FileStamp& stamp,
                          const oci::Digest& digest, int64_t hashed_at_ns) {
  int64_t limit = hashed_at_ns - kRacyWindowNs;
  if (stamp.mtime_ns >= limit || stamp.ctime_ns >= limit) {
    entries_.erase(path);  // whatever was stored is stale
    return false;
  }
  entries_[path] = Entry{stamp, digest};
  return true;
}

void MetadataCache::Retain(const std::function<bool(const std::string& path)>& keep) {
  std::erase_if(entries_, [&](const auto& kv) { return !keep(kv.first); });
}

ContentHasher::ContentHasher(MetadataCache* cache, std::function<int64_t()> now_ns)
    : cache_(cache), now_ns_(now_ns ? std::move(now_ns) : RealtimeNs) {}

Result<oci::Digest> ContentHasher::FileDigest(const std::string& path, const FileStamp& seen) {
  if (cache_ != nullptr) {
    if (auto d = cache_->Lookup(path, seen)) return *d;
  }
  int64_t started = now_ns_();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) return SysError("open({})", path);
  struct stat before {};
  if (::fstat(fd.get(), &before) != 0) return SysError("fstat({})", path);
  if (!S_ISREG(before.st_mode)) {
    return MakeError(ErrorKind::kFailedPrecondition, "{}: not a regular file any more ({})", path,
                     fs::FileTypeName(before.st_mode));
  }
  ++files_hashed_;
  oci::Sha256Hasher hasher;
  constexpr size_t kBufBytes = 1u << 20;
  if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(kBufBytes);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf_.get(), kBufBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("read({})", path);
    if (n == 0) break;
    hasher.Update(buf_.get(), static_cast<size_t>(n));
  }
  oci::Digest digest = hasher.Finish();
  struct stat after {};
  if (::fstat(fd.get(), &after) != 0) return SysError("fstat({})", path);
  FileStamp stamp = StampOf(before);
  if (cache_ != nullptr && stamp == StampOf(after)) cache_->Store(path, stamp, digest, started);
  return digest;
}

Result<oci::Digest> InputsDigest(const CopyPlan& plan, ContentHasher& hasher) {
  std::vector<const CopyOp*> ops;
  ops.reserve(plan.ops.size());
  for (const CopyOp& op : plan.ops) ops.push_back(&op);
  std::stable_sort(ops.begin(), ops.end(),
                   [](const CopyOp* a, const CopyOp* b) { return a->dest < b->dest; });
  std::string out;
  Net(out, "berth.build.inputs.v1");
  NetNum(out, ops.size());
  for (const CopyOp* op : ops) {
    Net(out, op->dest);
    Net(out, TypeLetter(op->type));
    Net(out, Octal4(op->mode));
    NetNum(out, op->uid);
    NetNum(out, op->gid);
    Net(out, op->hardlink);
    Net(out, Bool(op->create_only));
    Net(out, Bool(op->unpack));
    std::string payload;
    switch (op->type) {
      case EntryType::kRegular:
        if (!op->hardlink.empty()) break;
        if (!op->digest.empty()) {  // a download, hashed as it came
          payload = op->digest;
        } else if (op->source_path.empty()) {  // a heredoc
          payload = oci::Sha256Of(op->content).ToString();
        } else if (op->source.empty()) {
          return MakeError(ErrorKind::kInvalidArgument,
                           "hashing {}: the context is a listing without files", op->source_path);
        } else {
          BERTH_TRY(oci::Digest d,
                    hasher.FileDigest(op->source,
                                      FileStamp{op->size, op->mtime_ns, op->ino, op->ctime_ns}),
                    "hashing {}", op->source_path);
          payload = d.ToString();
        }
        break;
      case EntryType::kSymlink:
        payload = op->link_target;
        break;
      case EntryType::kCharDevice:
      case EntryType::kBlockDevice:
        payload = std::to_string(op->rdev);
        break;
      case EntryType::kDirectory:
      case EntryType::kFifo:
        break;
    }
    Net(out, payload);
  }
  return oci::Sha256Of(out);
}

}  // namespace berth::build
