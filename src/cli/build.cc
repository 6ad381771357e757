// `berth build [-t REF]... [-f FILE|-] [--build-arg K[=V]]... [--target STAGE] [--no-cache]
// [--pull[=always|missing|never]] [--label K=V]... [--network default|none|host]
// [--secret id=ID,src=FILE|env=VAR]... [--ssh default|ID[=SOCKET]]... [--iidfile FILE]
// [--progress auto|plain|tty|quiet] [--compression-format gzip|zstd]
// [-o|--output type=oci|docker|tar|local[,dest=PATH] | DIR | -] [-q] CONTEXT|-`: builds an
// image from a Dockerfile (docker build), one image per step:
//   FROM          an image (pulled per --pull: when missing by default, as `berth run` does;
//                 always re-resolved against the registry with --pull / --pull=always; never
//                 with --pull=never, where a missing image is an error naming the Dockerfile
//                 line; its ONBUILD triggers run first and the new image keeps none), scratch,
//                 or an earlier stage by name or index; a base without PATH gets BuildKit's
//                 default PATH;
//   RUN           a container of the current image (the step's environment, WORKDIR, USER,
//                 --network), waited for; its writable layer committed (image/commit.h) and
//                 the container removed. Here-documents are run as BuildKit runs them and
//                 --mount=type=bind|cache|tmpfs|secret|ssh mounted (build/run_plan.h,
//                 cli/build_mounts.h; an ssh mount is a socket forwarding to the agent that
//                 --ssh gave for its id, and SSH_AUTH_SOCK names it); the mount points are left
//                 out of the layer;
//   COPY, ADD     the build context (after .dockerignore), --from=<stage or image>, or
//                 here-documents, planned by build/copy_plan.h (--parents, --exclude too) and
//                 written through an overlay of the current image into a fresh upper
//                 directory, which is committed; with --link (and no --chmod, as BuildKit) into
//                 an empty tree instead, its layer put on top; ADD extracts local tar archives
//                 (plain or gzip, bzip2, xz, zstd compressed) and downloads http(s) URLs
//                 (cli/build_fetch.h) at every build, checked against --checksum, keyed on
//                 their content; the downloads are the builder's, made whatever --network says;
//   WORKDIR       the config, and the directory created the same way (with its missing
//                 parents, owned by the stage's USER);
//   ENV LABEL USER EXPOSE VOLUME CMD ENTRYPOINT SHELL STOPSIGNAL HEALTHCHECK MAINTAINER ONBUILD
//                 the config alone (an empty_layer history entry).
// Images named by COPY --from and RUN --mount from= are pulled (per --pull) before the first
// step. Each step's key (build/cache_key.h) maps to its image in <root>/build-cache.json; a step
// whose key is there and whose image still exists is reused ("CACHED") unless --no-cache. A
// stage's first key is its base image's manifest digest, so a base that --pull=always brought
// in anew misses the cache.
// CONTEXT "-" reads stdin as docker does (cli/build_fs.h: ReadStdinInput): a tar (plain or
// compressed) is the context, extracted into <root>/build-tmp/<pid>/context (its .dockerignore
// applies; -f names a file inside it, opened in its root); anything else is the Dockerfile and
// there is no context. `-f -` reads the Dockerfile from stdin with a directory context.
// Progress goes to stderr: plain prints BuildKit's plain lines ("#N [stage k/n] STEP", "#N
// CACHED", "#N DONE <seconds>s" after a step built) with each RUN's output as it comes; tty
// prints the same lines, keeps a RUN's output back (in the build's temporary directory) and
// prints it only when the step fails; quiet (-q) prints nothing but the image ID on stdout; auto is tty when
// stderr is a terminal, else plain.
// --output (cli/build_output.h) also writes the image as an oci or docker archive, or its root
// filesystem as a tar or into a directory; the image stays in the store. With dest "-" the
// archive is stdout (refused when that is a terminal) and -q's image ID goes to stderr.
// SOURCE_DATE_EPOCH (--build-arg or the environment) sets every step's created time and clamps
// the layers' mtimes: the same inputs give the same image ID.
// Not supported (refused with one line): RUN --security, --ssh ID=KEYFILE (give an agent), ADD
// of git repositories, a URL or git repository as CONTEXT, --output type=image|registry (the
// image is always stored: `berth push` sends it), --progress=rawjson.
// A failed build removes what it made: its containers, mounts and new images.
// Interrupted (SIGINT, SIGTERM or SIGHUP: Ctrl-C, kill, a closed terminal), it stops at the next
// point where nothing is half-made (cli/interrupt.h): a RUN step's container is SIGKILLed and
// removed, a COPY stops between two files, a commit always finishes (and so does a pull that did
// not get the signal itself, as a terminal's Ctrl-C sends it to the whole process group). The
// steps committed stay as build cache (as BuildKit keeps them: the next build reuses them,
// `berth builder prune` removes them); the rest goes: containers, mounts, the build's directory,
// images that are no cache entry, and nothing is tagged. It prints one line, "berth: build
// interrupted by SIGINT at Dockerfile:N (RUN)", and exits 128 + the signal (130, 143, 129).
// Killed outright (kill -9, a crash), it cannot clean up; what it owns is marked instead
// (cli/build_reap.h): a RUN step's container is killed and removed by its monitor as soon as
// the build is gone; the build's directory (its mounts, RUN --mount files, the journal of its
// committed steps) and a step container that never started stay until the next `berth build`,
// `berth builder prune` or `berth system prune`, which unmount and remove them and keep the
// journaled steps as cache, as after Ctrl-C. A commit cut short leaves only what the store
// itself cleans up: tmp/ entries (removed when the store is next opened), blobs and layers no
// image names (`berth system prune`).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "base/defer.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "build/build_flags.h"
#include "build/build_plan.h"
#include "build/cache_key.h"
#include "build/context.h"
#include "build/copy_plan.h"
#include "build/dockerfile.h"
#include "build/expand.h"
#include "build/run_plan.h"
#include "cli/build_fetch.h"
#include "cli/build_fs.h"
#include "cli/build_mounts.h"
#include "cli/build_output.h"
#include "cli/build_parallel.h"
#include "cli/build_reap.h"
#include "cli/container_common.h"
#include "cli/image_common.h"
#include "cli/interrupt.h"
#include "cli/sibling.h"
#include "engine/commit.h"
#include "engine/engine.h"
#include "engine/rootfs.h"
#include "engine/rootless.h"
#include "engine/user_db.h"
#include "image/change.h"
#include "image/commit.h"
#include "image/settings.h"
#include "runtime/in_root.h"

namespace berth::cli {
namespace {

struct BuildFlags {
  std::vector<std::string> tags;
  std::string file;
  std::vector<std::string> build_args;
  std::string target;
  bool no_cache = false;
  std::vector<std::string> labels;
  std::string network = "default";
  std::string iidfile;
  bool quiet = false;
  std::vector<std::string> secrets;
  std::vector<std::string> ssh;  // --ssh default|ID[=SOCKET]
  std::string context;
  std::string pull = "missing";
  std::string progress = "auto";
  std::string output;
  std::string compression = "gzip";
  // A build of one stage beside another build (cli/build_parallel.h): the stage's index; -1
  // for a build of its own.
  int internal_stage = -1;
  // The four above, parsed (RunBuild).
  engine::PullPolicy pull_policy = engine::PullPolicy::kMissing;
  bool tty = false;  // --progress tty: a RUN's output kept back unless the step fails
  std::optional<build::OutputSpec> output_spec;
  unpack::Compression layer_compression = unpack::Compression::kGzip;
};

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

bool IsProxyArg(std::string_view name) {
  static const std::set<std::string, std::less<>> kProxy = {
      "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY",
      "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"};
  return kProxy.count(name) > 0;
}

// One stage's state between steps.
struct StageState {
  std::string image;  // the current image ID; "" for scratch before its first step
  std::string key;    // the last step's cache key (the parent of the next)
  oci::ContainerConfig config;
  std::string author;
  bool cmd_set = false;  // a CMD in this stage (ENTRYPOINT then keeps it)
  bool built = false;
};

class Builder {
 public:
  Builder(const GlobalOptions& g, const store::Store& store, const BuildFlags& f,
          const image::Settings& settings)
      : g_(g),
        store_(store),
        f_(f),
        paths_(EnginePaths(g)),
        apply_(image::ApplyOptionsFor(settings)),
        download_(DownloadOptions(settings)) {}

  // Runs the build; returns the final image ID.
  Result<std::string> Build();
  // The build's directory (cli/build_reap.h: BuildDir), removed with the builder.
  const std::string& work_dir() const { return work_; }
  // After a failure: removes the images this build made (those still untagged and unused).
  void RemoveCreatedImages() {
    beside_.StopAll();
    for (auto it = created_.rbegin(); it != created_.rend(); ++it)
      (void)RemoveUnclaimedImage(g_.root, paths_, store_, *it);
  }
  // The interrupting signal received so far (0: none).
  int Interrupted() { return interrupts_.Poll(); }
  // After a signal: the steps committed stay as build cache, the build's other images, its
  // containers (already gone with the steps), mounts and directory go; one line says where
  // the build stopped. Returns the exit code, 128 + the signal.
  int StopInterrupted();
  // The last progress line's vertex number: the lines after the build's go on from it.
  int vertex() const { return vertex_; }

 private:
  Result<void> Prepare();
  // Sets context_dir_ and dockerfile_path_ from CONTEXT and -f (stdin for "-"); returns the
  // Dockerfile's text.
  Result<std::string> ReadInputs();
  Result<void> BuildStage(size_t index);
  Result<void> ConfigStep(StageState& st, const build::Instruction& ins,
                          const build::InstructionScope& scope);
  Result<void> RunStep(StageState& st, const build::Instruction& ins,
                       const build::InstructionScope& scope, size_t stage_index);
  Result<void> CopyStep(StageState& st, const build::Instruction& ins,
                        const build::InstructionScope& scope, size_t stage_index);
  Result<void> WorkdirStep(StageState& st, const build::Instruction& ins, std::string dir);
  // Prints the step's line; true when the key's image is reused (then `st` moves to it).
  bool Begin(StageState& st, const std::string& text, const oci::Digest& key);
  // The image the cache has for `key`, when it is still stored (and --no-cache is not given).
  std::optional<std::string> CachedStep(const oci::Digest& key) const;
  // cli::Mounting for this build's WORKDIR and COPY steps.
  Result<std::string> Mounting(const std::function<Result<std::string>()>& fn) {
    return cli::Mounting(rootless_, fn);
  }
  // `what` (COPY --chown=..., WORKDIR under USER) needs uid:gid: an error for a user whose
  // namespace maps its own id alone, where files can have no other owner.
  Result<void> CanOwn(uint32_t uid, uint32_t gid, std::string_view what) const {
    if (!rootless_ || id_range_ || (uid == 0 && gid == 0)) return {};
    return MakeError(ErrorKind::kFailedPrecondition,
                     "{} needs owner {}:{}, but this user's namespace maps only its own id (no "
                     "range for it in /etc/subuid and /etc/subgid)",
                     what, uid, gid);
  }
  Result<void> Commit(StageState& st, const std::string& key, image::CommitRequest req);
  // Where the build may stop: an error when a signal came (the caller passes it up as is).
  Result<void> Checkpoint() {
    if (interrupts_.Poll() == 0) return {};
    return MakeError(ErrorKind::kFailedPrecondition, "interrupted by {}",
                     Interrupts::Name(interrupts_.signal()));
  }
  // --progress=tty: a failed RUN's kept output (`fd`, its log), the last 64 KiB, on stderr.
  void ShowKeptOutput(int fd);
  void Progress(const std::string& line) {
    if (!f_.quiet && !muted_) std::fprintf(stderr, "%s\n", line.c_str());
  }
  Result<std::string> Expand(std::string_view word, const build::InstructionScope& scope) const {
    return build::ExpandWord(word, scope.vars, dockerfile_.escape);
  }
  std::string Where(const build::Instruction& ins) const {
    return dockerfile_.source + ":" + std::to_string(ins.line);
  }
  Result<void> ReadSecrets();
  // Makes sure an image the Dockerfile names is in the store, per --pull (once per build).
  Result<void> Ensure(const std::string& image);
  // The image a COPY --from or RUN --mount from= value names: an earlier stage's current image
  // or an image pulled before the build.
  Result<std::string> ImageOf(const std::string& from, size_t stage_index) const;
  // A RUN's inputs through its bind mounts, for its key: what each shows the step (the context's
  // files under its source, digested as COPY's are, or the stage's or image's ID), "" without.
  Result<std::string> BindMountInputs(const build::RunPlan& plan, size_t stage_index) const;
  std::string NewWorkDir() { return work_ + "/" + std::to_string(++mounts_); }
  // The next progress line's vertex number (the same one while muted_).
  int NextVertex() { return muted_ ? vertex_ : ++vertex_; }

  // Stages built beside this build (cli/build_parallel.h). SetUpBeside decides whether any may
  // be; StartBeside starts those the scheduler allows now (the build has work of its own, or
  // waits); AwaitBeside, before the build makes stage `index` itself, waits for its child and
  // shows the child's progress in its place (the stage's own steps, all CACHED, then muted).
  void SetUpBeside(const build::BuildOrder& order);
  void StartBeside();
  Result<void> AwaitBeside(size_t index);
  // Takes the children that have ended: all those that have, or (`wait`) the next one to end.
  Result<void> ReapBeside(bool wait);
  std::vector<std::string> StageArgs(size_t stage) const;
  std::string StageLog(size_t stage) const { return work_ + "/stage-" + std::to_string(stage) + ".log"; }

  const GlobalOptions& g_;
  const store::Store& store_;
  const BuildFlags& f_;
  engine::Paths paths_;
  unpack::ApplyOptions apply_;
  registry::Options download_;  // ADD <URL>'s downloads
  Interrupts interrupts_;        // SIGINT, SIGTERM, SIGHUP held back for the builder's life
  std::optional<BuildDir> dir_;  // <root>/build-tmp/<pid>-<random>, locked while we run
  std::string work_;             // dir_'s path: the step mounts
  int mounts_ = 0;
  std::string context_dir_;
  std::string dockerfile_path_;
  build::Dockerfile dockerfile_;
  std::optional<build::BuildContext> context_;
  build::BuildInputs inputs_;
  build::BuildScopes scopes_;
  std::optional<int64_t> source_date_epoch_;
  build::StepCache cache_;
  std::vector<std::string> created_;
  std::vector<std::pair<std::string, std::string>> stored_;  // this build's (key, image) steps
  std::vector<std::string> unkeyed_;  // images made that are no cache entry
  const build::Instruction* current_ = nullptr;  // the step running, for the interrupt's line
  std::vector<StageState> stages_;
  std::map<std::string, std::string> images_;   // --from/from= image reference -> image ID
  std::set<std::string> ensured_;               // the images Ensure() has seen
  std::map<std::string, std::string> secrets_;  // --secret id -> value
  std::map<std::string, std::string> ssh_agents_;  // --ssh id -> an agent's socket
  // The step being shown: its number in the stage, the stage's step count, the vertex number.
  std::string stage_name_;
  size_t step_ = 0, steps_ = 0;
  int vertex_ = 0;
  // When the step being built (not CACHED) began, for its DONE line.
  std::optional<std::chrono::steady_clock::time_point> step_started_;
  // An unprivileged user's build: its WORKDIR and COPY steps mount their overlays in a user
  // namespace of the user's own (Mounting); `id_range_`: that namespace maps a subordinate range.
  bool rootless_ = engine::Rootless();
  bool id_range_ = rootless_ && engine::RootlessMaps().uids.size() > 1;
  bool muted_ = false;        // progress not shown (a stage a child built and showed)
  size_t building_ = 0;       // the stage being built (or waited for)
  std::optional<build::StageScheduler> scheduler_;  // unset: no stage builds beside
  StageBuilds beside_;
  std::set<size_t> built_beside_;  // stages whose child succeeded
  std::string self_;               // the executable the children run
  size_t merged_ = 0;              // stored_'s entries saved in the cache file for the children
};

Result<std::string> Builder::ReadInputs() {
  if (f_.context == "-") {
    context_dir_ = work_ + "/context";
    BERTH_TRY(StdinBuildInput in,
              ReadStdinInput(STDIN_FILENO, work_ + "/stdin", context_dir_, apply_));
    if (in.dockerfile) return std::move(*in.dockerfile);
    // -f names a file inside the tar, opened in its root: a link there cannot reach the host.
    std::string name = f_.file.empty() ? "Dockerfile" : f_.file;
    dockerfile_path_ = fs::Join(context_dir_, fs::Clean("/" + name));
    BERTH_TRY(UniqueFd root, fs::Open(context_dir_, O_PATH | O_DIRECTORY | O_CLOEXEC));
    BERTH_TRY(UniqueFd fd, runtime::OpenInRoot(root.get(), name, O_RDONLY | O_CLOEXEC),
              "failed to read dockerfile");
    BERTH_TRY(std::string text, fs::ReadRegularFd(fd.get(), build::kMaxDockerfileBytes, name),
              "failed to read dockerfile");
    // So is the ignore file: one the tar links elsewhere is refused.
    if (auto ignore = build::FindIgnoreFile(context_dir_, dockerfile_path_)) {
      std::unique_ptr<char, decltype(&std::free)> real(::realpath(ignore->c_str(), nullptr),
                                                       &std::free);
      std::unique_ptr<char, decltype(&std::free)> ctx(::realpath(context_dir_.c_str(), nullptr),
                                                      &std::free);
      if (!real || !ctx || !std::string_view(real.get()).starts_with(std::string(ctx.get()) + "/"))
        return MakeError(ErrorKind::kInvalidArgument,
                         "{}: the ignore file leads outside the build context",
                         ignore->substr(context_dir_.size() + 1));
    }
    return text;
  }
  context_dir_ = f_.context;
  if (!fs::IsDir(context_dir_))
    return MakeError(ErrorKind::kInvalidArgument,
                     "unable to prepare context: path \"{}\" not found", f_.context);
  if (f_.file == "-")
    return ReadStream(STDIN_FILENO, build::kMaxDockerfileBytes, "Dockerfile from stdin");
  dockerfile_path_ = f_.file.empty() ? fs::Join(context_dir_, "Dockerfile") : f_.file;
  BERTH_TRY(std::string text,
            fs::ReadRegularFile(dockerfile_path_, build::kMaxDockerfileBytes, "Dockerfile"),
            "failed to read dockerfile");
  return text;
}

Result<void> Builder::Prepare() {
  // What builds that died left (containers, mounts, directories) goes before this one starts.
  if (auto reaped = ReapDeadBuilds(g_.root, paths_, store_); !reaped)
    log::Warn("cleaning up after dead builds: {}", reaped.error().message());
  BERTH_TRY(BuildDir dir, BuildDir::Make(g_.root));
  work_ = dir.path();
  dir_.emplace(std::move(dir));
  BERTH_TRY(std::string text, ReadInputs());
  // dockerfile_path_ is "" for a Dockerfile from stdin.
  std::string what = dockerfile_path_.empty()
                         ? "Dockerfile"
                         : dockerfile_path_.substr(dockerfile_path_.rfind('/') + 1);
  BERTH_TRY(dockerfile_, build::ParseDockerfile(text, what));
  BERTH_CHECK(ReadSecrets());
  BERTH_TRY(build::IgnoreMatcher ignore, build::LoadIgnoreFile(context_dir_, dockerfile_path_));
  BERTH_TRY(context_, build::BuildContext::FromDirectory(context_dir_, &ignore));

  for (const std::string& a : f_.build_args) {
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      inputs_.build_args[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (const char* v = std::getenv(a.c_str())) {
      inputs_.build_args[a] = v;
    }
  }
  std::string sde;
  if (auto it = inputs_.build_args.find("SOURCE_DATE_EPOCH"); it != inputs_.build_args.end())
    sde = it->second;
  else if (const char* v = std::getenv("SOURCE_DATE_EPOCH"))
    sde = v;
  if (!sde.empty()) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(sde.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
      return MakeError(ErrorKind::kInvalidArgument, "invalid SOURCE_DATE_EPOCH \"{}\"", sde);
    source_date_epoch_ = v;
  }
  oci::Platform host = oci::HostPlatform();
  inputs_.target = {host.os, host.architecture, host.variant};
  inputs_.build = inputs_.target;

  BERTH_TRY(build::StepCache cache, build::StepCache::Load(fs::Join(g_.root, "build-cache.json")));
  cache_ = std::move(cache);
  return {};
}

Result<void> Builder::ReadSecrets() {
  for (const std::string& flag : f_.secrets) {
    BERTH_TRY(build::SecretSource s, build::ParseSecretFlag(flag, [](const std::string& name) {
                return std::getenv(name.c_str()) != nullptr;
              }));
    if (!s.env.empty()) {
      const char* v = std::getenv(s.env.c_str());
      if (v == nullptr)
        return MakeError(ErrorKind::kNotFound, "--secret {}: environment variable {} is not set",
                         flag, s.env);
      secrets_[s.id] = v;
      continue;
    }
    // A secret file is small: at most 500 KiB, as BuildKit's secrets are.
    BERTH_TRY(secrets_[s.id], fs::ReadRegularFile(s.file, 500 << 10, "secret"), "--secret {}",
              flag);
  }
  for (const std::string& flag : f_.ssh) {
    BERTH_TRY(build::SshSource s, build::ParseSshFlag(flag, std::getenv("SSH_AUTH_SOCK")));
    struct stat st;
    if (::stat(s.socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
      return MakeError(ErrorKind::kInvalidArgument,
                       "--ssh {}: {} is not an ssh agent's socket (key files are not supported: "
                       "add them to an agent)",
                       flag, s.socket);
    if (!ssh_agents_.emplace(s.id, s.socket).second)
      return MakeError(ErrorKind::kInvalidArgument, "--ssh {}: {} given twice", flag, s.id);
  }
  return {};
}

Result<void> Builder::Ensure(const std::string& image) {
  if (!ensured_.insert(image).second) return {};
  engine::RunOptions o;
  o.image = image;
  o.pull = f_.pull_policy;
  return EnsureImage(g_, store_, o, f_.quiet);
}

Result<std::string> Builder::ImageOf(const std::string& from, size_t stage_index) const {
  if (auto dep = build::FindStage(dockerfile_, from, stage_index)) return stages_[*dep].image;
  auto it = images_.find(from);
  if (it == images_.end())
    return MakeError(ErrorKind::kInternal, "{}: image not resolved before the build", from);
  return it->second;
}

Result<std::string> Builder::BindMountInputs(const build::RunPlan& plan,
                                             size_t stage_index) const {
  std::string out;
  for (const build::RunMount& m : plan.mounts) {
    if (m.type != build::MountType::kBind) continue;
    std::string shown;
    if (!m.from.empty()) {
      BERTH_TRY(shown, ImageOf(m.from, stage_index));
    } else if (context_) {
      build::CopyRequest req;
      req.sources = {m.source.empty() ? "." : m.source};
      req.dest = "/mnt/";
      req.dest_is_directory = true;
      BERTH_TRY(build::CopyPlan files, build::PlanCopy(*context_, req),
                "--mount=type=bind,source={}", m.source);
      build::ContentHasher hasher;
      BERTH_TRY(oci::Digest d, build::InputsDigest(files, hasher));
      shown = d.ToString();
    }
    out += fmt::format("{}:{};", m.target, shown);
  }
  return out.empty() ? std::string() : oci::Sha256Of(out).ToString();
}

Result<std::string> Builder::Build() {
  BERTH_CHECK(Prepare());
  // The bases first (their ENV is part of every stage's scope), then the scopes for real.
  BERTH_TRY(build::BuildScopes first, build::ComputeScopes(dockerfile_, inputs_));
  std::optional<size_t> index;
  if (f_.internal_stage >= 0) index = static_cast<size_t>(f_.internal_stage);
  BERTH_TRY(build::BuildOrder plan, build::StagesToBuild(dockerfile_, first, f_.target, index));
  const std::vector<size_t>& order = plan.stages;
  for (const build::ImageUse& use : plan.images) {
    BERTH_CHECK(Ensure(use.ref), "{}:{}: --from={}", dockerfile_.source, use.line, use.ref);
    BERTH_TRY(store::ImageRecord rec, store_.Resolve(use.ref));
    images_[use.ref] = rec.config.ToString();
  }
  // A base that sets no PATH gets BuildKit's (scratch included).
  inputs_.image_env["scratch"] = {{"PATH", std::string(build::kDefaultPathEnv)}};
  for (size_t i : order) {
    const std::string& base = first.stages[i].base;
    if (base == "scratch" || build::FindStage(dockerfile_, base, i)) continue;
    if (!inputs_.image_env.count(base)) {
      BERTH_CHECK(Ensure(base), "{}:{}: FROM {}", dockerfile_.source,
                  dockerfile_.stages[i].from.line, base);
    }
    BERTH_TRY(oci::ImageConfig config, store_.Config(base));
    build::VarMap env;
    for (const std::string& kv : build::WithDefaultPath(config.config.env)) {
      auto eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    inputs_.image_env[base] = std::move(env);
    // The base image's ONBUILD triggers run first in the stage, as docker runs them.
    build::Stage& stage = dockerfile_.stages[i];
    BERTH_TRY(std::vector<build::Instruction> triggers,
              build::ParseTriggers(config.config.on_build, dockerfile_.source, stage.from.line));
    stage.instructions.insert(stage.instructions.begin(), triggers.begin(), triggers.end());
  }
  BERTH_TRY(scopes_, build::ComputeScopes(dockerfile_, inputs_));
  // The triggers may name images of their own (COPY --from, RUN --mount from=).
  BERTH_TRY(build::BuildOrder with_triggers,
            build::StagesToBuild(dockerfile_, scopes_, f_.target, index));
  for (const build::ImageUse& use : with_triggers.images) {
    if (images_.count(use.ref)) continue;
    BERTH_CHECK(Ensure(use.ref), "{}:{}: ONBUILD trigger --from={}", dockerfile_.source, use.line,
                use.ref);
    BERTH_TRY(store::ImageRecord rec, store_.Resolve(use.ref));
    images_[use.ref] = rec.config.ToString();
  }
  stages_.assign(dockerfile_.stages.size(), StageState{});
  SetUpBeside(with_triggers);
  for (size_t i : with_triggers.stages) {
    BERTH_CHECK(AwaitBeside(i));
    BERTH_CHECK(BuildStage(i));
    muted_ = false;
    if (scheduler_) scheduler_->Built(i);
  }

  StageState& last = stages_[with_triggers.stages.back()];
  if (!f_.labels.empty()) {
    // --label: one more config step on the final image.
    build::StepText text;
    text.keyword = "LABEL";
    std::vector<std::string> changes;
    for (const std::string& l : f_.labels) {
      auto eq = l.find('=');
      std::string k = l.substr(0, eq), v = eq == std::string::npos ? "" : l.substr(eq + 1);
      last.config.labels[k] = v;
      text.args.push_back(k + "=" + v);
    }
    oci::Digest key = build::StepKey(last.key, text, "");
    stage_name_.clear();
    step_ = steps_ = 1;
    current_ = nullptr;
    BERTH_CHECK(Checkpoint());
    if (!Begin(last, "LABEL " + Join(text.args) + " (--label)", key)) {
      image::CommitRequest req;
      req.created_by = "LABEL " + Join(text.args);
      BERTH_CHECK(Commit(last, key.ToString(), std::move(req)));
    }
  }
  if (last.image.empty()) {
    // FROM scratch and nothing else: an image with no layer.
    image::CommitRequest req;
    req.created_by = "FROM scratch";
    BERTH_CHECK(Commit(last, "", std::move(req)));
  }
  // Merged into the file as it is now: another build may have saved its steps meanwhile.
  BERTH_CHECK(MergeStepCache(g_.root, store_, stored_));
  return last.image;
}

int Builder::StopInterrupted() {
  int signal = interrupts_.signal();
  // The children stop as this build does, their committed steps kept as cache.
  beside_.StopAll();
  if (auto m = MergeStepCache(g_.root, store_, stored_); !m) log::Warn("{}", m.error().message());
  for (const std::string& id : unkeyed_) (void)RemoveUnclaimedImage(g_.root, paths_, store_, id);
  dir_.reset();
  work_.clear();
  log::Error("build interrupted by {}{}", Interrupts::Name(signal),
             current_ ? " at " + Where(*current_) + " (" + current_->keyword + ")" : "");
  return 128 + signal;
}

void Builder::SetUpBeside(const build::BuildOrder& order) {
  // Not for a build of one stage, nor where a child could not reuse what it built (--no-cache)
  // or read the same inputs (a context or Dockerfile on stdin).
  if (f_.internal_stage >= 0 || f_.no_cache || f_.context == "-" || f_.file == "-" ||
      order.stages.size() < 2)
    return;
  auto self = SiblingExecutable("berth-full");
  if (!self) return;
  self_ = *self;
  // A stage with steps: one with none has nothing to build beside.
  std::set<size_t> candidates;
  for (size_t i : order.stages)
    if (std::any_of(dockerfile_.stages[i].instructions.begin(),
                    dockerfile_.stages[i].instructions.end(),
                    [](const build::Instruction& ins) { return ins.keyword != "ARG"; }))
      candidates.insert(i);
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  scheduler_.emplace(order, std::move(candidates), static_cast<size_t>(std::max(1L, cpus)));
}

std::vector<std::string> Builder::StageArgs(size_t stage) const {
  std::vector<std::string> a = {self_,
                                "--root",
                                g_.root,
                                "--log-level",
                                g_.log_level,
                                "build",
                                "--internal-stage",
                                std::to_string(stage),
                                "--pull=never",  // this build has the images (Build)
                                "--network",
                                f_.network,
                                "--compression-format",
                                f_.compression,
                                "--progress",
                                f_.quiet ? "quiet" : f_.tty ? "tty" : "plain",
                                "-f",
                                dockerfile_path_};
  for (const std::string& v : f_.build_args) a.insert(a.end(), {"--build-arg", v});
  for (const std::string& v : f_.secrets) a.insert(a.end(), {"--secret", v});
  for (const std::string& v : f_.ssh) a.insert(a.end(), {"--ssh", v});
  a.insert(a.end(), {"--", context_dir_});
  return a;
}

Result<void> Builder::ReapBeside(bool wait) {
  while (!beside_.empty()) {
    BERTH_TRY(std::optional<StageBuilds::Ended> ended, beside_.WaitAny(interrupts_, wait ? -1 : 0));
    if (!ended) return Checkpoint();
    if (ended->ok) {
      scheduler_->Built(ended->stage);
      built_beside_.insert(ended->stage);
      // Its steps, merged into the cache file by the child, for Begin; and ours, kept.
      BERTH_TRY(build::StepCache cache,
                build::StepCache::Load(fs::Join(g_.root, "build-cache.json")));
      for (const auto& [key, id] : stored_) cache.Store(key, id);
      cache_ = std::move(cache);
    } else {
      // The build makes it itself, in file order, and reports its error there.
      scheduler_->Failed(ended->stage);
    }
    if (wait) return {};
  }
  return {};
}

void Builder::StartBeside() {
  if (!scheduler_) return;
  if (auto reaped = ReapBeside(false); !reaped) return;  // a signal: Checkpoint stops the build
  std::vector<size_t> start = scheduler_->Start(building_);
  if (start.empty()) return;
  // The children find this build's steps (the stages they need) in the cache file.
  if (stored_.size() > merged_) {
    if (auto m = MergeStepCache(g_.root, store_, stored_); !m) {
      log::Debug("not building stages beside: {}", m.error().message());
      for (size_t s : start) scheduler_->Failed(s);
      return;
    }
    merged_ = stored_.size();
  }
  for (size_t s : start) {
    if (auto ok = beside_.Start(s, StageArgs(s), StageLog(s)); !ok) {
      log::Debug("not building stage {} beside: {}", s, ok.error().message());
      scheduler_->Failed(s);
    }
  }
}

Result<void> Builder::AwaitBeside(size_t index) {
  if (!scheduler_) return {};
  building_ = index;
  while (scheduler_->Running(index)) {
    StartBeside();  // this build waits: others may start meanwhile (and ended ones are taken)
    BERTH_CHECK(Checkpoint());
    if (!scheduler_->Running(index)) break;
    BERTH_CHECK(ReapBeside(true));
  }
  if (!built_beside_.contains(index)) return {};
  // The child's progress in this build's numbering; the stage's own pass (all CACHED) is muted.
  if (!f_.quiet) {
    BERTH_TRY(std::string log, fs::ReadFile(StageLog(index)));
    std::string shown = RenumberProgress(log, &vertex_);
    std::fwrite(shown.data(), 1, shown.size(), stderr);
  }
  muted_ = true;
  return {};
}

Result<void> Builder::BuildStage(size_t index) {
  const build::Stage& stage = dockerfile_.stages[index];
  const build::StageScope& scope = scopes_.stages[index];
  StageState& st = stages_[index];
  building_ = index;
  // A build of one stage shows that stage's steps only (those it needs are CACHED).
  if (f_.internal_stage >= 0) muted_ = index != static_cast<size_t>(f_.internal_stage);
  stage_name_ = stage.name;
  steps_ = 1 + static_cast<size_t>(
                   std::count_if(stage.instructions.begin(), stage.instructions.end(),
                                 [](const build::Instruction& i) { return i.keyword != "ARG"; }));
  step_ = 1;
  Progress(build::StepLine(NextVertex(), stage_name_, step_, steps_, "FROM " + scope.base));
  if (auto dep = build::FindStage(dockerfile_, scope.base, index)) {
    st = stages_[*dep];
    st.cmd_set = false;
  } else if (scope.base == "scratch") {
    st.key = "scratch";
    st.config.env = build::WithDefaultPath({});
  } else {
    BERTH_TRY(store::ImageRecord rec, store_.Resolve(scope.base));
    BERTH_TRY(oci::ImageConfig config, store_.Config(rec.config.ToString()));
    st.image = rec.config.ToString();
    st.key = rec.manifest.ToString();
    st.config = config.config;
    st.config.env = build::WithDefaultPath(std::move(st.config.env));
    // Its triggers ran first in this stage (Build): the new image has none of them.
    st.config.on_build.clear();
    st.author = config.author;
  }
  // SOURCE_DATE_EPOCH sets every step's times (created, clamped mtimes): part of what a step of
  // an image or scratch stage builds on (build/cache_key.h).
  // So does the layers' compression (zstd: other layer digests, other images).
  if (!build::FindStage(dockerfile_, scope.base, index)) {
    if (source_date_epoch_) st.key += fmt::format(";SOURCE_DATE_EPOCH={}", *source_date_epoch_);
    if (f_.layer_compression == unpack::Compression::kZstd) st.key += ";compression=zstd";
  }
  for (size_t k = 0; k < stage.instructions.size(); ++k) {
    const build::Instruction& ins = stage.instructions[k];
    const build::InstructionScope& is = scope.instructions[k];
    if (ins.keyword == "ARG") continue;
    ++step_;
    current_ = &ins;
    BERTH_CHECK(Checkpoint());
    if (ins.keyword == "RUN") {
      BERTH_CHECK(RunStep(st, ins, is, index));
    } else if (ins.keyword == "COPY" || ins.keyword == "ADD") {
      BERTH_CHECK(CopyStep(st, ins, is, index));
    } else {
      BERTH_CHECK(ConfigStep(st, ins, is));
    }
  }
  st.built = true;
  return {};
}

std::optional<std::string> Builder::CachedStep(const oci::Digest& key) const {
  if (f_.no_cache) return std::nullopt;
  std::optional<std::string> id = cache_.Lookup(key.ToString());
  if (id && !store_.Resolve(*id)) id.reset();
  return id;
}

bool Builder::Begin(StageState& st, const std::string& text, const oci::Digest& key) {
  std::optional<std::string> id = CachedStep(key);
  // A stage a child built is shown by its progress; a step missing from the cache since (a
  // prune meanwhile) is built and shown here.
  if (!id && f_.internal_stage < 0) muted_ = false;
  Progress(build::StepLine(NextVertex(), stage_name_, step_, steps_, text));
  if (!id) {
    step_started_ = std::chrono::steady_clock::now();
    // Work of our own: stages that need nothing more may build beside it meanwhile.
    StartBeside();
    return false;
  }
  Progress("#" + std::to_string(vertex_) + " CACHED");
  st.image = *id;
  st.key = key.ToString();
  return true;
}

void Builder::ShowKeptOutput(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size == 0) return;
  constexpr off_t kTail = 64 << 10;
  off_t from = st.st_size > kTail ? st.st_size - kTail : 0;
  std::string tail(static_cast<size_t>(st.st_size - from), '\0');
  ssize_t n = ::pread(fd, tail.data(), tail.size(), from);
  if (n <= 0) return;
  tail.resize(static_cast<size_t>(n));
  if (from > 0) Progress(fmt::format("#{} ... ({} bytes of output before)", vertex_, from));
  std::fwrite(tail.data(), 1, tail.size(), stderr);
  if (tail.back() != '\n') std::fputc('\n', stderr);
}

Result<void> Builder::Commit(StageState& st, const std::string& key, image::CommitRequest req) {
  req.parent = st.image;
  req.config = st.config;
  req.author = st.author;
  req.source_date_epoch = source_date_epoch_;
  req.compression = f_.layer_compression;
  // A user's steps ran in user namespaces: their upper dirs hold host ids and user.overlay.*.
  engine::CommitIds ids = engine::CommitIdsForThisUser();
  req.overlay_xattr_prefix = ids.overlay_xattr_prefix;
  req.uid_map = ids.uid_map;
  req.gid_map = ids.gid_map;
  BERTH_TRY(store::ImageRecord rec, image::CommitLayer(store_, req, apply_));
  st.image = rec.config.ToString();
  if (std::find(created_.begin(), created_.end(), st.image) == created_.end())
    created_.push_back(st.image);
  // Journaled at once: a build killed from here on leaves it to ReapDeadBuilds as cache.
  BERTH_CHECK(dir_->Record(key, st.image));
  // The step's time, as BuildKit shows each vertex's.
  if (step_started_) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - *step_started_;
    Progress(fmt::format("#{} DONE {:.1f}s", vertex_, took.count()));
    step_started_.reset();
  }
  if (!key.empty()) {
    st.key = key;
    cache_.Store(key, st.image);
    stored_.emplace_back(key, st.image);
  } else {
    unkeyed_.push_back(st.image);
  }
  return {};
}

Result<void> Builder::ConfigStep(StageState& st, const build::Instruction& ins,
                                 const build::InstructionScope& scope) {
  build::StepText text = build::StepTextOf(ins);
  oci::ContainerConfig& c = st.config;
  const std::string& kw = ins.keyword;
  auto form = [&]() {
    if (ins.json) return ins.args;
    std::vector<std::string> v =
        c.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : c.shell;
    v.push_back(ins.args.empty() ? "" : ins.args[0]);
    return v;
  };
  if (kw == "ENV" || kw == "LABEL") {
    text.args.clear();
    for (const build::KeyValue& kv : ins.pairs) {
      BERTH_TRY(std::string k, Expand(kv.key, scope), "{}", Where(ins));
      BERTH_TRY(std::string v, Expand(kv.value, scope), "{}", Where(ins));
      if (kw == "ENV")
        image::SetEnv(c.env, k, v);
      else
        c.labels[k] = v;
      text.args.push_back(k + "=" + v);
    }
  } else if (kw == "WORKDIR") {
    BERTH_TRY(std::string w, Expand(ins.args.at(0), scope), "{}", Where(ins));
    if (w.empty() || w[0] != '/') w = fs::Join(c.working_dir.empty() ? "/" : c.working_dir, w);
    w = fs::Clean(w);
    text.args = {w};
    return WorkdirStep(st, ins, w);
  } else if (kw == "USER" || kw == "STOPSIGNAL" || kw == "MAINTAINER") {
    BERTH_TRY(std::string v, Expand(ins.args.at(0), scope), "{}", Where(ins));
    (kw == "USER" ? c.user : kw == "STOPSIGNAL" ? c.stop_signal : st.author) = v;
    text.args = {v};
  } else if (kw == "EXPOSE" || kw == "VOLUME") {
    std::vector<std::string> words;
    for (const std::string& a : ins.args) {
      BERTH_TRY(std::string v, Expand(a, scope), "{}", Where(ins));
      if (!v.empty()) words.push_back(v);
    }
    if (kw == "EXPOSE") {
      BERTH_TRY(std::vector<std::string> ports, image::ParsePortSpecs(words), "{}", Where(ins));
      words = ports;
    }
    auto& list = kw == "EXPOSE" ? c.exposed_ports : c.volumes;
    list.insert(list.end(), words.begin(), words.end());
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    text.args = words;
  } else if (kw == "CMD") {
    c.cmd = form();
    st.cmd_set = true;
  } else if (kw == "ENTRYPOINT") {
    c.entrypoint = form();
    if (!st.cmd_set) c.cmd.reset();
  } else if (kw == "SHELL") {
    c.shell = ins.args;
  } else if (kw == "HEALTHCHECK") {
    const build::Healthcheck& h = *ins.health;
    oci::HealthConfig hc;
    hc.test = h.test;
    hc.interval_ns = h.interval.count();
    hc.timeout_ns = h.timeout.count();
    hc.start_period_ns = h.start_period.count();
    hc.start_interval_ns = h.start_interval.count();
    hc.retries = h.retries;
    c.healthcheck = hc;
  } else if (kw == "ONBUILD") {
    c.on_build.push_back(ins.args.at(0));
  } else {
    return MakeError(ErrorKind::kInvalidArgument, "{}: {} is not supported by berth build",
                     Where(ins), kw);
  }
  oci::Digest key = build::StepKey(st.key, text, "");
  if (Begin(st, build::InstructionText(ins), key)) return {};
  image::CommitRequest req;
  req.created_by = build::InstructionText(ins);
  return Commit(st, key.ToString(), std::move(req));
}

Result<void> Builder::WorkdirStep(StageState& st, const build::Instruction& ins, std::string dir) {
  st.config.working_dir = dir;
  build::StepText text = build::StepTextOf(ins);
  text.args = {dir};
  oci::Digest key = build::StepKey(st.key, text, "");
  if (Begin(st, build::InstructionText(ins), key)) return {};
  // The directory, owned by the stage's USER as BuildKit makes it.
  std::string scratch = NewWorkDir();
  auto remove = Defer([&] { (void)engine::RemoveTree(scratch); });
  BERTH_CHECK(Mounting([&]() -> Result<std::string> {
    BERTH_TRY(ScratchRootfs fsv, ScratchRootfs::Mount(store_, st.image, scratch, rootless_));
    uint32_t uid = 0, gid = 0;
    if (!st.config.user.empty()) {
      BERTH_TRY(engine::UserFiles files, engine::ReadUserFiles(fsv.merged()));
      BERTH_TRY(engine::ExecUser u,
                engine::ResolveUser(st.config.user, files.passwd, files.group), "{}", Where(ins));
      uid = u.uid;
      gid = u.gid;
    }
    if (uid != 0 || gid != 0) {
      // Only what it creates gets the owner: a directory already there needs none.
      BERTH_TRY(UniqueFd root, fs::Open(fsv.merged(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!runtime::OpenInRoot(root.get(), dir, O_PATH | O_DIRECTORY))
        BERTH_CHECK(CanOwn(uid, gid, fmt::format("{}: WORKDIR {} under USER {}", Where(ins), dir,
                                                 st.config.user)));
    }
    {
      // Every directory it creates, parents included (BuildKit's mkdir with parents and the
      // user).
      BERTH_TRY(UniqueFd root, fs::Open(fsv.merged(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      BERTH_CHECK(MkdirAllOwned(root.get(), dir, uid, gid), "{}: WORKDIR {}", Where(ins), dir);
    }
    BERTH_CHECK(fsv.UnmountAndKeep());
    return std::string();
  }));
  image::CommitRequest req;
  req.upper_dir = scratch + "/upper";
  req.created_by = "WORKDIR " + dir;
  return Commit(st, key.ToString(), std::move(req));
}

Result<void> Builder::RunStep(StageState& st, const build::Instruction& ins,
                              const build::InstructionScope& scope, size_t stage_index) {
  std::vector<std::string> shell =
      st.config.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : st.config.shell;
  BERTH_TRY(build::RunPlan plan,
            build::PlanRun(ins, scope.vars, dockerfile_.escape, shell,
                           st.config.working_dir.empty() ? "/" : st.config.working_dir),
            "{}", Where(ins));
  const std::vector<std::string>& argv = plan.command.argv;
  for (const build::RunMount& m : plan.mounts)
    if (m.type == build::MountType::kSecret && m.required && !secrets_.count(m.id))
      return MakeError(ErrorKind::kNotFound,
                       "{}: secret {} not found: give it with --secret id={},src=FILE", Where(ins),
                       m.id, m.id);
  for (const build::RunMount& m : plan.mounts)
    if (m.type == build::MountType::kSsh && m.required && !ssh_agents_.count(m.id))
      return MakeError(ErrorKind::kNotFound,
                       "{}: no ssh agent {} forwarded: give it with --ssh {}[=SOCKET]", Where(ins),
                       m.id, m.id);
  build::StepText text = build::StepTextOf(ins);
  std::vector<std::string> env;
  for (const auto& [k, v] : scope.vars) {
    env.push_back(k + "=" + v);
    if (!IsProxyArg(k)) text.env[k] = v;
  }
  BERTH_TRY(std::string mounted, BindMountInputs(plan, stage_index), "{}", Where(ins));
  oci::Digest key = build::StepKey(st.key, text, mounted);
  if (Begin(st, build::InstructionText(ins), key)) return {};

  RunMountInputs mount_inputs;
  mount_inputs.store = &store_;
  mount_inputs.root = g_.root;
  mount_inputs.new_dir = [this] { return NewWorkDir(); };
  mount_inputs.context = &*context_;
  mount_inputs.image_of = [this, stage_index](const std::string& from) {
    return ImageOf(from, stage_index);
  };
  mount_inputs.secrets = &secrets_;
  mount_inputs.ssh_agents = &ssh_agents_;
  mount_inputs.rootless = rootless_;
  BERTH_TRY(RunMounts mounts, RunMounts::Make(mount_inputs, plan), "{}", Where(ins));
  env.insert(env.end(), mounts.env().begin(), mounts.env().end());
  // BuildKit's exec op: set whether or not the agent was given, unless the step has one.
  if (!plan.ssh_auth_sock.empty() && !scope.vars.count("SSH_AUTH_SOCK"))
    env.push_back("SSH_AUTH_SOCK=" + plan.ssh_auth_sock);
  std::string network = f_.network;
  if (plan.network)
    network = *plan.network == build::RunNetwork::kNone   ? "none"
              : *plan.network == build::RunNetwork::kHost ? "host"
                                                          : "default";

  engine::RunOptions o;
  o.image = st.image;
  o.pull = engine::PullPolicy::kNever;
  o.entrypoint = std::vector<std::string>{};
  o.command = argv;
  o.env = env;
  o.workdir = st.config.working_dir;
  o.user = st.config.user;
  o.no_healthcheck = true;
  o.network = network == "none"   ? net::Mode::kNone
              : network == "host" ? net::Mode::kHost
                                  : net::Mode::kBridge;
  o.mounts = mounts.requests();
  // The build's: it dies with the build however the build ends (engine::RunOptions).
  o.owner_lock = work_;
  BERTH_TRY(engine::ContainerRecord rec, engine::CreateContainer(paths_, store_, o), "{}",
            Where(ins));
  auto remove = Defer([&] { (void)engine::RemoveContainer(paths_, rec.id, true, true); });
  BERTH_CHECK(Checkpoint());
  // The step's output goes to stderr with the progress: with -q nowhere, with --progress=tty
  // to a file shown only when the step fails. stdout stays the build's own.
  std::fflush(stdout);
  std::fflush(stderr);
  int saved = ::dup(1);
  if (saved < 0) return SysError("dup(1)");
  UniqueFd saved_fd(saved);
  UniqueFd sink;  // what 1 and 2 are instead of stderr
  if (f_.quiet) {
    BERTH_TRY(sink, fs::Open("/dev/null", O_WRONLY | O_CLOEXEC));
  } else if (f_.tty) {
    BERTH_TRY(sink, fs::Open(work_ + "/run.log", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  }
  ::dup2(sink ? sink.get() : 2, 1);
  int saved_err = -1;
  if (sink) {
    saved_err = ::dup(2);
    ::dup2(sink.get(), 2);
  }
  StartClient client;
  client.attach_output = true;
  // A signal stops the step: its container is killed (the shell as PID 1 ignores SIGINT and
  // SIGTERM) and the wait for its exit goes on.
  client.on_interrupt = [&](int signal) {
    interrupts_.Note(signal);
    (void)engine::KillContainer(paths_, rec.id, SIGKILL);
  };
  int code = StartAndAttach(g_, store_, rec.id, client);
  ::dup2(saved_fd.get(), 1);
  if (saved_err >= 0) {
    ::dup2(saved_err, 2);
    ::close(saved_err);
  }
  BERTH_CHECK(Checkpoint());
  if (code != 0) {
    if (f_.tty && !f_.quiet) ShowKeptOutput(sink.get());
    return MakeError(ErrorKind::kFailedPrecondition,
                     "{}: process \"{}\" did not complete successfully: exit code: {}",
                     Where(ins), Join(argv), code);
  }
  image::CommitRequest req;
  req.upper_dir = engine::UpperDir(paths_, rec).value_or("");
  // The mount points the container's start and the step's --mount flags made are not the
  // step's change.
  if (auto lowers = engine::LowerDirs(store_, rec); lowers && !req.upper_dir.empty()) {
    std::string prefix = engine::CommitIdsForThisUser().overlay_xattr_prefix;
    req.skip = build::MountStubFilter(req.upper_dir, *lowers, mounts.targets(),
                                      engine::MountPointFilter(req.upper_dir, *lowers, prefix), prefix);
  }
  req.created_by = "RUN " + Join(argv) + " # buildkit";
  return Commit(st, key.ToString(), std::move(req));
}

Result<void> Builder::CopyStep(StageState& st, const build::Instruction& ins,
                               const build::InstructionScope& scope, size_t stage_index) {
  const std::string& kw = ins.keyword;
  build::StepText text = build::StepTextOf(ins);
  text.flags.clear();
  std::optional<std::string> from;  // the image read instead of the context
  std::optional<build::Chown> chown;
  std::optional<build::Chmod> chmod;
  bool unpack = true;           // local archives: unless --unpack=false
  bool unpack_remotes = false;  // downloads: only with --unpack=true
  bool link = false;
  std::optional<oci::Digest> checksum;
  build::CopyRequest req;
  for (const build::Flag& flag : ins.flags) {
    BERTH_TRY(std::string v, Expand(flag.value, scope), "{}", Where(ins));
    text.flags.push_back({flag.name, v});
    if (flag.name == "from" && kw == "COPY") {
      BERTH_TRY(from, ImageOf(v, stage_index), "{}", Where(ins));
    } else if (flag.name == "unpack" && kw == "ADD") {
      unpack = v != "false";
      unpack_remotes = v == "true";
    } else if (flag.name == "link") {
      link = v == "true";
    } else if (flag.name == "parents" && kw == "COPY") {
      req.parents = v == "true";
    } else if (flag.name == "exclude") {
      req.excludes.push_back(v);
    } else if (flag.name == "checksum" && kw == "ADD") {
      BERTH_TRY(checksum, build::ParseChecksum(v), "{}", Where(ins));
    } else if (flag.name == "keep-git-dir" && kw == "ADD") {
      // Only a git source has a .git directory, and those are refused below.
    } else if (flag.name == "chown") {
      BERTH_TRY(chown, build::ParseChown(v), "{}", Where(ins));
    } else if (flag.name == "chmod") {
      BERTH_TRY(chmod, build::Chmod::Parse(v), "{}", Where(ins));
    } else {
      return MakeError(ErrorKind::kInvalidArgument, "{}: {} --{} is not supported", Where(ins), kw,
                       flag.name);
    }
  }
  req.command = kw;
  for (const std::string& a : ins.args) {
    BERTH_TRY(std::string v, Expand(a, scope), "{}", Where(ins));
    req.sources.push_back(v);
  }
  // Here-document bodies, expanded unless their delimiter was quoted.
  req.heredocs = ins.heredocs;
  for (build::Heredoc& h : req.heredocs)
    if (h.expand) {
      BERTH_TRY(h.content, build::ExpandHeredoc(h.content, scope.vars), "{}", Where(ins));
    }
  req.dest = req.sources.back();
  req.sources.pop_back();
  text.args = req.sources;
  text.args.push_back(req.dest);
  req.workdir = st.config.working_dir.empty() ? "/" : st.config.working_dir;
  req.from_context = !from;
  req.chmod = chmod;
  req.unpack_remotes = unpack_remotes;
  // ADD's URLs, downloaded at every build: the step's key is their content's digest.
  BERTH_CHECK(build::CheckRemoteSources(kw, req.sources), "{}", Where(ins));
  if (checksum) BERTH_CHECK(build::CheckChecksumUse(kw, req.sources), "{}", Where(ins));
  for (const std::string& source : req.sources) {
    if (build::ClassifySource(source) != build::SourceKind::kHttp) continue;
    BERTH_CHECK(Checkpoint());
    BERTH_TRY(build::RemoteFile file, Download(source, NewWorkDir(), apply_.max_bytes, download_),
              "{}", Where(ins));
    if (checksum) BERTH_CHECK(build::VerifyChecksum(file, *checksum), "{}", Where(ins));
    req.remotes.push_back(std::move(file));
  }

  // --link copies into an empty tree whose layer goes on top of the image: nothing of the image
  // is read, so symlinks on the destination's path are not followed, names for --chown cannot
  // be looked up, and the directories on the path are the layer's own. BuildKit links only a
  // copy without --chmod (dockerfile2llb: `cfg.link && cfg.chmod == ""`); with it, --link is a
  // plain copy.
  bool linked = link && !chmod;
  std::string scratch = NewWorkDir(), from_dir = NewWorkDir();
  auto remove = Defer([&] {
    (void)engine::RemoveTree(scratch);
    (void)engine::RemoveTree(from_dir);
  });
  // Plans the copy over the mounted trees and keys it; unless the key is cached (Begin here;
  // in a user's namespace only a look, Begin being this process's), writes it into the
  // destination's upper directory. Returns "<key> +" when it wrote, "<key> -" when not.
  auto copy = [&](bool look_up) -> Result<std::string> {
    BERTH_TRY(ScratchRootfs dst,
              ScratchRootfs::Mount(store_, linked ? "" : st.image, scratch, rootless_));
    BERTH_TRY(UniqueFd root, fs::Open(dst.merged(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    std::string dest_path = build::ResolveCopyDest(req.dest, req.workdir).path;
    req.dest_is_directory =
        runtime::OpenInRoot(root.get(), dest_path, O_PATH | O_DIRECTORY).has_value();
    if (chown) {
      BERTH_TRY(engine::UserFiles files, engine::ReadUserFiles(dst.merged()));
      build::IdLookup lookup;
      auto passwd = engine::ParsePasswd(files.passwd);
      auto groups = engine::ParseGroup(files.group);
      lookup.user = [&](std::string_view name) -> std::optional<build::Owner> {
        for (const auto& p : passwd)
          if (p.name == name) return build::Owner{p.uid, p.gid};
        return std::nullopt;
      };
      lookup.group = [&](std::string_view name) -> std::optional<uint32_t> {
        for (const auto& gr : groups)
          if (gr.name == name) return gr.gid;
        return std::nullopt;
      };
      auto owner = build::ResolveChown(*chown, lookup);
      if (!owner && linked)
        return MakeError(ErrorKind::kInvalidArgument,
                         "{}: {} (--link copies into an empty tree: give --chown numeric ids)",
                         Where(ins), owner.error().message());
      if (!owner) return Unexpected(std::move(owner).error().Wrap("{}", Where(ins)));
      req.chown = *owner;
    }
    std::optional<ScratchRootfs> src;
    std::optional<build::BuildContext> tree;
    if (from) {
      BERTH_TRY(ScratchRootfs s, ScratchRootfs::Mount(store_, *from, from_dir, rootless_));
      src.emplace(std::move(s));
      BERTH_TRY(tree, build::BuildContext::FromDirectory(src->merged()));
    }
    BERTH_TRY(build::CopyPlan plan, build::PlanCopy(from ? *tree : *context_, req), "{}",
              Where(ins));
    // ADD extracts a local tar archive (by content, whatever its name) into the destination.
    for (build::CopyOp& op : plan.ops) {
      if (!op.unpack) continue;
      op.unpack = false;
      if (unpack && op.type == build::EntryType::kRegular && op.hardlink.empty()) {
        BERTH_TRY(op.unpack, IsLocalArchive(op.source), "{}", Where(ins));
      }
    }
    build::ContentHasher hasher;
    BERTH_TRY(oci::Digest inputs, build::InputsDigest(plan, hasher), "{}", Where(ins));
    oci::Digest key = build::StepKey(st.key, text, inputs.ToString());
    bool cached = rootless_ ? look_up && CachedStep(key).has_value()
                            : Begin(st, build::InstructionText(ins), key);
    if (cached) return key.ToString() + " -";
    if (req.chown)
      BERTH_CHECK(CanOwn(req.chown->uid, req.chown->gid,
                         fmt::format("{}: {} --chown", Where(ins), kw)));
    if (req.chown) {
      // The destination directories the copy creates are --chown's too (BuildKit's copy.Copy
      // makes the destination, or its parent for a file name, with the owner); without --chown
      // they are root's, as the ops' own parents are.
      build::CopyDest d = build::ResolveCopyDest(req.dest, req.workdir);
      std::string dir = d.named_dir || req.dest_is_directory ? d.path : fs::Clean(d.path + "/..");
      BERTH_CHECK(MkdirAllOwned(root.get(), dir, req.chown->uid, req.chown->gid), "{}",
                  Where(ins));
    }
    CopyWriter writer(root.get());
    for (const build::CopyOp& op : plan.ops) {
      BERTH_CHECK(Checkpoint());
      if (op.unpack) {
        // A user's namespace that maps its own id alone cannot give a tar's other owners.
        BERTH_CHECK(ExtractArchive(root.get(), op.source, dest_path, !rootless_ || id_range_),
                    "{}: {} {}", Where(ins), kw, op.source_path);
        writer.Forget();
      } else {
        BERTH_CHECK(writer.Apply(op), "{}", Where(ins));
      }
    }
    root = UniqueFd();
    BERTH_CHECK(dst.UnmountAndKeep());
    return key.ToString() + " +";
  };
  auto started = std::chrono::steady_clock::now();
  BERTH_TRY(std::string done, Mounting([&] { return copy(true); }));
  std::string key = done.substr(0, done.find(' '));
  if (rootless_) {
    // This process's Begin, now that the key is known: CACHED drops what was written.
    BERTH_TRY(oci::Digest parsed, oci::Digest::Parse(key));
    if (Begin(st, build::InstructionText(ins), parsed)) return {};
    step_started_ = started;
    // Cached when looked up, gone since (a prune): written now.
    if (done.ends_with(" -")) {
      BERTH_TRY(done, Mounting([&] { return copy(false); }));
    }
  } else if (done.ends_with(" -")) {
    return {};
  }
  image::CommitRequest commit;
  commit.upper_dir = scratch + "/upper";
  commit.created_by = build::InstructionText(ins) + " # buildkit";
  return Commit(st, key, std::move(commit));
}

// --pull, --progress and --output parsed into `f`, and what they and stdin allow checked:
// every mistake is one line before anything is built.
Result<void> ParseFlags(BuildFlags& f) {
  BERTH_TRY(build::PullMode pull, build::ParsePullFlag(f.pull));
  f.pull_policy = pull == build::PullMode::kAlways  ? engine::PullPolicy::kAlways
                  : pull == build::PullMode::kNever ? engine::PullPolicy::kNever
                                                    : engine::PullPolicy::kMissing;
  BERTH_TRY(build::ProgressMode progress, build::ParseProgressFlag(f.progress));
  progress = build::ResolveProgress(progress, ::isatty(STDERR_FILENO) == 1);
  if (progress == build::ProgressMode::kQuiet) f.quiet = true;
  f.tty = progress == build::ProgressMode::kTty && !f.quiet;
  BERTH_TRY(build::LayerCompression compression, build::ParseCompressionFlag(f.compression));
  f.layer_compression = compression == build::LayerCompression::kZstd ? unpack::Compression::kZstd
                                                                      : unpack::Compression::kGzip;
  if (!f.output.empty()) {
    BERTH_TRY(f.output_spec, build::ParseOutputFlag(f.output));
    if (f.output_spec->dest == "-" && ::isatty(STDOUT_FILENO) == 1)
      return MakeError(ErrorKind::kInvalidArgument,
                       "refusing to write --output to a terminal: give dest=FILE or redirect "
                       "stdout");
  }
  if (f.context == "-" && f.file == "-")
    return MakeError(ErrorKind::kInvalidArgument,
                     "stdin cannot be both the build context and the Dockerfile (-f -)");
  if ((f.context == "-" || f.file == "-") && ::isatty(STDIN_FILENO) == 1)
    return MakeError(ErrorKind::kInvalidArgument,
                     "{} from stdin, but stdin is a terminal: pipe a {} in",
                     f.context == "-" ? "build context" : "Dockerfile",
                     f.context == "-" ? "tar or a Dockerfile" : "Dockerfile");
  return {};
}

std::string_view OutputName(build::OutputType t) {
  switch (t) {
    case build::OutputType::kOci:
      return "oci image format";
    case build::OutputType::kDocker:
      return "docker image format";
    case build::OutputType::kTar:
      return "client tarball";
    case build::OutputType::kLocal:
      return "client directory";
  }
  return "";
}

int RunBuild(const GlobalOptions& g, BuildFlags f) {
  if (f.network != "default" && f.network != "none" && f.network != "host" && f.network != "bridge")
    return Fail(Error("invalid --network \"" + f.network + "\": default, none or host",
                      ErrorKind::kInvalidArgument));
  if (auto ok = ParseFlags(f); !ok) return Fail(ok.error());
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  auto settings = image::LoadDefaultSettings();
  if (!settings) return Fail(settings.error());
  Builder builder(g, *store, f, *settings);
  auto id = builder.Build();
  // A signal during the last step's commit stops the build too: nothing is named yet.
  if (builder.Interrupted()) return builder.StopInterrupted();
  if (!id) {
    builder.RemoveCreatedImages();
    return Fail(id.error());
  }
  // A build of one stage beside another: its steps are the cache that build uses.
  if (f.internal_stage >= 0) return 0;
  int vertex = builder.vertex();
  if (!f.quiet) std::fprintf(stderr, "#%d writing image %s\n", ++vertex, id->c_str());
  for (const std::string& tag : f.tags) {
    auto rec = store->Tag(*id, tag);
    if (!rec) return Fail(rec.error());
    if (!f.quiet) std::fprintf(stderr, "#%d naming to %s\n", vertex, rec->name.c_str());
  }
  if (!f.iidfile.empty()) {
    auto w = fs::WriteFileAtomic(f.iidfile, *id);
    if (!w) return Fail(w.error());
  }
  bool to_stdout = f.output_spec && f.output_spec->dest == "-";
  if (f.output_spec) {
    if (!f.quiet)
      std::fprintf(stderr, "#%d exporting to %s (%s)\n", ++vertex,
                   std::string(OutputName(f.output_spec->type)).c_str(),
                   to_stdout ? "stdout" : f.output_spec->dest.c_str());
    auto w = WriteBuildOutput(*store, *f.output_spec, *id, f.tags, builder.work_dir(),
                              image::ApplyOptionsFor(*settings));
    if (!w) return Fail(w.error());
  }
  // stdout is the archive's when --output writes there.
  if (f.quiet) std::fprintf(to_stdout ? stderr : stdout, "%s\n", id->c_str());
  return 0;
}

void AddBuild(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("build", "Build an image from a Dockerfile");
  auto f = std::make_shared<BuildFlags>();
  c->add_option("context", f->context,
                "The build context: a directory, or - for stdin (a tar, plain or compressed, is "
                "the context; anything else is the Dockerfile, with no context)")
      ->required();
  c->add_option("-t,--tag", f->tags, "Name the image (name:tag), repeatable");
  c->add_option("-f,--file", f->file,
                "The Dockerfile (default: CONTEXT/Dockerfile; with a tar on stdin, a path in "
                "it); - reads it from stdin");
  c->add_option("--build-arg", f->build_args,
                "Set a build-time variable (K=V, or K from the environment)");
  c->add_option("--target", f->target, "Build up to this stage");
  c->add_flag("--no-cache", f->no_cache, "Do not reuse cached steps");
  // Bare, the flag gives "true": always, as docker's boolean --pull.
  c->add_flag("--pull", f->pull,
              "[=always|missing|never] Pull FROM, COPY --from and RUN --mount from= images: "
              "--pull or --pull=always always (the registry's current image), --pull=missing "
              "when not stored (the default), --pull=never never (a missing image is an error)");
  c->add_option("--label", f->labels, "Set a label on the image (K=V)");
  c->add_option("--network", f->network,
                "RUN's network: default (bridge), none or host (RUN --network overrides it)");
  c->add_option("--secret", f->secrets,
                "A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR, "
                "repeatable; never stored in the image or the cache");
  c->add_option("--ssh", f->ssh,
                "An ssh agent for RUN --mount=type=ssh: default or ID ($SSH_AUTH_SOCK), or "
                "ID=SOCKET; repeatable; the agent's socket never enters the image or the cache");
  c->add_option("--iidfile", f->iidfile, "Write the image ID to this file");
  c->add_flag("-q,--quiet", f->quiet, "Print only the image ID");
  c->add_option("--compression-format", f->compression,
                "How each step's layer is compressed: gzip or zstd (deterministic either way)")
      ->capture_default_str();
  c->add_option("--progress", f->progress,
                "Progress on stderr: plain (each step, with RUN's output), tty (each step; a "
                "RUN's output only when it fails), quiet (as -q), auto (tty on a terminal, "
                "else plain)")
      ->capture_default_str();
  c->add_option("--internal-stage", f->internal_stage,
                "(internal) build only this stage, by index, beside a build")
      ->group("");
  c->add_option("-o,--output", f->output,
                "Also write the result: type=oci|docker,dest=FILE (the image as an archive, as "
                "save writes it), type=tar,dest=FILE (its root filesystem), type=local,dest=DIR "
                "or DIR (the root filesystem into a directory); dest=- or - is stdout");
  c->footer(
      "Dockerfile: multi-stage builds (stages that do not depend on each other build at once, "
      "their progress shown in file order); RUN with here-documents, "
      "--mount=type=bind|cache|tmpfs|secret|ssh and --network=default|none|host; COPY/ADD from "
      "the "
      "context, --from=STAGE|IMAGE or here-documents, --chown, --chmod, --link, --exclude, "
      "COPY --parents; ADD extracts local tar archives (plain, gzip, bzip2, xz, zstd) and "
      "downloads http(s) URLs (--checksum=sha256:HEX; fetched at every build, whatever "
      "--network, and cached by content); the config instructions.\nNot supported: ADD of git "
      "repositories, --ssh ID=KEYFILE, RUN --security, a URL as "
      "CONTEXT, --output type=image|registry (the image is always stored; push sends it).\n"
      "Ctrl-C, SIGTERM or SIGHUP stop the build (exit 130, 143, 129): the running step is "
      "killed, the steps committed stay as cache, nothing else is left. After a kill -9, the "
      "next build, builder prune or system prune removes what the build left.");
  c->callback([&g, &action, f] { action = [&g, f] { return RunBuild(g, *f); }; });
}

}  // namespace

static const CommandRegistration kBuild(44, AddBuild);

}  // namespace berth::cli
