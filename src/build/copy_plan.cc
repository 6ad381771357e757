#include "build/copy_plan.h"

#include <deque>
#include <map>

#include "base/fs.h"
#include "base/strings.h"
#include "build/dockerignore.h"
#include "build/pathmatch.h"

namespace berth::build {
namespace {

// BuildKit's fs.RootPath allows this many symlinks on one path.
constexpr int kMaxSymlinks = 255;

// chmod(1)'s classes: setuid with the user, setgid with the group; "a" is all but sticky.
constexpr uint32_t kWhoUser = 04700, kWhoGroup = 02070, kWhoOther = 00007, kWhoAll = 06777;
constexpr uint32_t kSticky = 01000;

std::optional<uint32_t> ParseId(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xFFFFFFFFu) return std::nullopt;
  return static_cast<uint32_t>(v);
}

Unexpected BadChmod(std::string_view value) {
  return MakeError(ErrorKind::kInvalidArgument,
                   "invalid chmod parameter: '{}'. it should be octal string and between 0 and "
                   "07777",
                   value);
}

// The parent of a clean relative path ("a/b" -> "a", "a" -> ".").
std::string Parent(std::string_view p) {
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? "." : std::string(p.substr(0, slash));
}

std::string JoinRel(std::string_view dir, std::string_view name) {
  return dir == "." ? std::string(name) : std::string(dir) + "/" + std::string(name);
}

std::vector<std::string> Components(std::string_view p) {
  std::vector<std::string> out;
  for (std::string& c : str::Split(p, '/')) {
    if (!c.empty()) out.push_back(std::move(c));
  }
  return out;
}

// Resolves a clean relative path in the tree as if its root were "/": symlinks are followed
// (the last component only when follow_last), an absolute target restarts at the root, ".."
// stops there. nullopt when a component is missing or not a directory.
Result<std::optional<size_t>> ResolveInTree(const BuildContext& tree, std::string_view rel,
                                            bool follow_last, std::string_view shown) {
  std::deque<std::string> rest;
  for (std::string& c : Components(rel)) rest.push_back(std::move(c));
  std::string cur = ".";
  int links = 0;
  while (!rest.empty()) {
    std::string c = std::move(rest.front());
    rest.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      cur = cur == "." ? "." : Parent(cur);
      continue;
    }
    std::string next = JoinRel(cur, c);
    auto idx = tree.IndexOf(next);
    if (!idx) return std::nullopt;
    const ContextEntry& e = tree.entries()[*idx];
    if (e.type == EntryType::kSymlink && (!rest.empty() || follow_last)) {
      if (++links > kMaxSymlinks) {
        return MakeError(ErrorKind::kInvalidArgument, "\"{}\": too many levels of symbolic links",
                         shown);
      }
      std::vector<std::string> target = Components(e.link_target);
      if (!e.link_target.empty() && e.link_target[0] == '/') cur = ".";
      rest.insert(rest.begin(), target.begin(), target.end());
      continue;
    }
    if (!rest.empty() && e.type != EntryType::kDirectory) return std::nullopt;
    cur = std::move(next);
  }
  return tree.IndexOf(cur);
}

// One resolved source: the entry to copy and the name its copy takes.
struct Source {
  size_t index;
  std::string name;
};

// Expands a wildcard source: `dir` (resolved) then `patterns`, one per component.
Result<std::vector<Source>> MatchWildcards(const BuildContext& tree, size_t dir,
                                           const std::vector<std::string>& patterns) {
  std::vector<size_t> level = {dir};
  std::vector<Source> out;
  for (size_t k = 0; k < patterns.size(); ++k) {
    bool last = k + 1 == patterns.size();
    std::vector<size_t> next;
    for (size_t d : level) {
      for (std::string_view name : tree.Children(d)) {
        BERTH_TRY(bool match, MatchPattern(patterns[k], name));
        if (!match) continue;
        size_t idx = *tree.IndexOf(JoinRel(tree.entries()[d].path, name));
        if (last) {
          out.push_back({idx, std::string(name)});
        } else if (tree.entries()[idx].type == EntryType::kDirectory) {
          next.push_back(idx);
        }
      }
    }
    level = std::move(next);
  }
  return out;
}

// --exclude's patterns as patternmatcher.New takes them: cleaned, one leading `/` dropped.
Result<std::optional<IgnoreMatcher>> CompileExcludes(const std::vector<std::string>& patterns) {
  if (patterns.empty()) return std::optional<IgnoreMatcher>();
  std::vector<IgnorePattern> compiled;
  for (const std::string& p : patterns) {
    std::string_view v = p;
    if (v.size() > 1 && v[0] == '/') v.remove_prefix(1);
    BERTH_TRY(IgnorePattern ip, ParseIgnorePattern(v), "--exclude={}", p);
    compiled.push_back(std::move(ip));
  }
  BERTH_TRY(IgnoreMatcher m, IgnoreMatcher::Create(std::move(compiled)));
  return std::optional<IgnoreMatcher>(std::move(m));
}

// A path relative to a directory entry `base` of the tree ("." for the root).
std::string_view RelativeTo(std::string_view base, std::string_view path) {
  return base == "." ? path : path.substr(base.size() + 1);
}

class Planner {
 public:
  Planner(const BuildContext& tree, const CopyRequest& req) : tree_(tree), req_(req) {}

  Result<CopyPlan> Plan() {
    BERTH_TRY(exclude_, CompileExcludes(req_.excludes));
    CopyDest dest = ResolveCopyDest(req_.dest, req_.workdir);
    // Resolve every source first: the destination rule depends on how many there are.
    struct Resolved {
      std::vector<Source> sources;
      const Heredoc* heredoc = nullptr;
      const RemoteFile* remote = nullptr;
      std::string pattern;   // --parents: what to copy below each of `sources` (the pivots)
      std::string required;  // --parents: the path that must exist, when there are no wildcards
    };
    std::vector<Resolved> all;
    size_t count = 0;
    for (const std::string& src : req_.sources) {
      Resolved r;
      if (auto word = ParseHeredocWord(src)) {
        for (const Heredoc& h : req_.heredocs) {
          if (h.name == word->name) r.heredoc = &h;
        }
      }
      if (r.heredoc == nullptr) {
        if (ClassifySource(src) != SourceKind::kLocal) {
          BERTH_TRY(r.remote, Remote(src));
        } else if (req_.parents) {
          BERTH_CHECK(ResolveParents(src, &r.sources, &r.pattern, &r.required));
        } else {
          BERTH_TRY(r.sources, Resolve(src));
          // A non-directory a wildcard matched is left out when its name is excluded.
          if (exclude_ && HasWildcards(src)) {
            std::erase_if(r.sources, [&](const Source& s) {
              return tree_.entries()[s.index].type != EntryType::kDirectory &&
                     exclude_->Matches(s.name);
            });
          }
        }
      }
      count += r.heredoc != nullptr || r.remote != nullptr ? 1 : r.sources.size();
      all.push_back(std::move(r));
    }
    if (count > 1 && !dest.named_dir && !req_.parents) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "When using {} with more than one source file, the destination must be a "
                       "directory and end with a /",
                       req_.command);
    }
    bool into_dir = dest.named_dir || req_.dest_is_directory;
    for (const Resolved& r : all) {
      if (r.heredoc != nullptr) {
        AddHeredoc(*r.heredoc, into_dir ? fs::Join(dest.path, r.heredoc->name) : dest.path);
        continue;
      }
      if (r.remote != nullptr) {
        AddRemote(*r.remote, into_dir ? fs::Join(dest.path, r.remote->name) : dest.path);
        continue;
      }
      if (req_.parents) {
        BERTH_CHECK(AddParents(r.sources, r.pattern, r.required, dest.path));
        continue;
      }
      for (const Source& s : r.sources) {
        const ContextEntry& e = tree_.entries()[s.index];
        if (e.type == EntryType::kDirectory) {
          AddDirectory(s.index, dest.path);
        } else {
          links_.clear();
          CopyOp op = OpFor(e, into_dir ? fs::Join(dest.path, s.name) : dest.path);
          op.unpack = req_.command == "ADD" && e.type == EntryType::kRegular;
          plan_.ops.push_back(std::move(op));
        }
      }
    }
    return std::move(plan_);
  }

 private:
  Result<const RemoteFile*> Remote(const std::string& src) {
    BERTH_CHECK(CheckRemoteSources(req_.command, {src}));
    for (const RemoteFile& f : req_.remotes) {
      if (f.url == src) return &f;
    }
    return MakeError(ErrorKind::kInvalidArgument, "{} {}: the URL was not downloaded", req_.command,
                     src);
  }

  Result<std::vector<Source>> Resolve(const std::string& src) {
    if (req_.from_context && !src.empty() && src[0] != '/') {
      std::string clean = CleanPath(src);
      if (clean == ".." || clean.starts_with("../")) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "forbidden path outside the build context: {}", src);
      }
    }
    std::string abs = CleanPath("/" + src);  // "/a/b", "/" for the root
    std::vector<std::string> comps = Components(abs);
    size_t first_wild = comps.size();
    for (size_t i = 0; i < comps.size(); ++i) {
      if (HasWildcards(comps[i])) {
        first_wild = i;
        break;
      }
    }
    std::string prefix = ".";
    for (size_t i = 0; i < first_wild; ++i) prefix = JoinRel(prefix, comps[i]);
    bool wildcard = first_wild < comps.size();
    BERTH_TRY(auto idx, ResolveInTree(tree_, prefix, /*follow_last=*/true, abs));
    if (!wildcard) {
      if (!idx) {
        bool ignored = tree_.Ignored(prefix);
        return MakeError(ErrorKind::kNotFound, "\"{}\": not found{}", abs,
                         ignored ? " (excluded by .dockerignore)" : "");
      }
      return std::vector<Source>{{*idx, comps.empty() ? "" : comps.back()}};
    }
    if (!idx || tree_.entries()[*idx].type != EntryType::kDirectory) return std::vector<Source>{};
    std::vector<std::string> patterns(comps.begin() + static_cast<ptrdiff_t>(first_wild),
                                      comps.end());
    BERTH_TRY(auto matches, MatchWildcards(tree_, *idx, patterns));
    // A matched symlink is followed, as any source is; one that leads nowhere is missing.
    std::vector<Source> out;
    for (Source& m : matches) {
      std::string shown = "/" + tree_.entries()[m.index].path;
      BERTH_TRY(auto target, ResolveInTree(tree_, shown.substr(1), /*follow_last=*/true, shown));
      if (!target) return MakeError(ErrorKind::kNotFound, "\"{}\": not found", shown);
      out.push_back({*target, std::move(m.name)});
    }
    return out;
  }

  // --parents: the pivot directories (resolved like a source) and the pattern below them.
  Result<void> ResolveParents(const std::string& src, std::vector<Source>* pivots,
                              std::string* pattern, std::string* required) {
    std::string pivot = "/";
    std::string rest = src;
    if (size_t cut = src.find("/./"); cut != std::string::npos) {
      pivot = src.substr(0, cut);
      rest = src.substr(cut + 3);
    }
    *pattern = CleanPath("/" + rest).substr(1);  // "" for the whole pivot
    if (!HasWildcards(pivot) && !HasWildcards(*pattern) && !pattern->empty()) {
      *required = CleanPath("/" + pivot + "/" + *pattern);
    }
    BERTH_TRY(*pivots, Resolve(pivot.empty() ? "/" : pivot));
    for (const Source& s : *pivots) {
      const ContextEntry& e = tree_.entries()[s.index];
      if (e.type != EntryType::kDirectory) {
        return MakeError(ErrorKind::kInvalidArgument, "--parents {}: \"/{}\" is not a directory",
                         src, e.path == "." ? "" : e.path);
      }
    }
    return {};
  }

  Result<void> AddParents(const std::vector<Source>& pivots, const std::string& pattern,
                          const std::string& required, const std::string& dest) {
    std::optional<IgnoreMatcher> include;
    if (!pattern.empty()) {
      BERTH_TRY(include, IgnoreMatcher::Create({IgnorePattern{pattern, false, 0}}));
    }
    bool found = required.empty();
    for (const Source& s : pivots) {
      const std::string& base = tree_.entries()[s.index].path;
      if (!found) {
        std::string rel = CleanPath(JoinRel(base, pattern));
        found = tree_.IndexOf(rel).has_value();
      }
      AddSubtree(s.index, dest, [&](std::string_view rel) {
        return (!include || include->Matches(rel)) && !(exclude_ && exclude_->Matches(rel));
      });
    }
    if (!found) {
      bool ignored = tree_.Ignored(required.substr(1));
      return MakeError(ErrorKind::kNotFound, "\"{}\": not found{}", required,
                       ignored ? " (excluded by .dockerignore)" : "");
    }
    return {};
  }

  CopyOp OpFor(const ContextEntry& e, std::string dest) {
    CopyOp op;
    op.dest = std::move(dest);
    op.source_path = e.path;
    op.source = tree_.root().empty() ? ""
                : e.path == "."      ? tree_.root()
                                     : fs::Join(tree_.root(), e.path);
    op.type = e.type;
    op.mode = e.mode;
    if (req_.chmod && e.type != EntryType::kSymlink) {
      op.mode = req_.chmod->Apply(e.mode, e.type == EntryType::kDirectory);
    }
    if (req_.chown) {
      op.uid = req_.chown->uid;
      op.gid = req_.chown->gid;
    } else if (!req_.from_context) {
      op.uid = e.uid;
      op.gid = e.gid;
    }
    op.size = e.size;
    op.link_target = e.link_target;
    op.rdev = e.rdev;
    op.ino = e.ino;
    op.mtime_ns = e.mtime_ns;
    op.ctime_ns = e.ctime_ns;
    if (e.type != EntryType::kDirectory && e.nlink > 1) {
      auto [it, fresh] = links_.try_emplace({e.dev, e.ino}, op.dest);
      if (!fresh) op.hardlink = it->second;
    }
    return op;
  }

  // A directory source (or a --parents pivot) copied into `dest`: the destination directory,
  // then the entries below the source that `keep` accepts (by their paths relative to it).
  void AddSubtree(size_t index, const std::string& dest,
                  const std::function<bool(std::string_view rel)>& keep) {
    links_.clear();  // hard links are kept within one source, as BuildKit's copy keeps them
    CopyOp top = OpFor(tree_.entries()[index], dest);
    // BuildKit's copy makes the destination with MkdirAll before copying into it: 0755, the
    // --chown owner or root, never the source directory's mode (--chmod included) or owner.
    top.mode = 0755;
    top.uid = req_.chown ? req_.chown->uid : 0;
    top.gid = req_.chown ? req_.chown->gid : 0;
    top.create_only = true;
    plan_.ops.push_back(std::move(top));
    auto [first, last] = tree_.Subtree(index);
    const std::string& base = tree_.entries()[index].path;
    // The directories (relative paths) written so far: kept ones, and those made as parents.
    std::vector<std::string> made;
    for (size_t i = first; i < last; ++i) {
      const ContextEntry& e = tree_.entries()[i];
      std::string_view rel = RelativeTo(base, e.path);
      if (!keep(rel)) continue;
      // Entries come depth first: `made` holds this entry's kept ancestors as a prefix chain.
      while (!made.empty() && !rel.starts_with(made.back() + "/")) made.pop_back();
      size_t from = made.empty() ? 0 : made.back().size() + 1;
      for (size_t k = rel.find('/', from); k != std::string_view::npos; k = rel.find('/', k + 1)) {
        // A parent the rules left out: made with its own metadata, only when missing.
        std::string parent(rel.substr(0, k));
        CopyOp op = OpFor(*tree_.Find(JoinRel(base, parent)), fs::Join(dest, parent));
        op.create_only = true;
        plan_.ops.push_back(std::move(op));
        made.push_back(std::move(parent));
      }
      plan_.ops.push_back(OpFor(e, fs::Join(dest, rel)));
      if (e.type == EntryType::kDirectory) made.emplace_back(rel);
    }
  }

  void AddDirectory(size_t index, const std::string& dest) {
    AddSubtree(index, dest,
               [&](std::string_view rel) { return !(exclude_ && exclude_->Matches(rel)); });
  }

  void AddRemote(const RemoteFile& f, std::string dest) {
    CopyOp op;
    op.dest = std::move(dest);
    op.source = f.path;
    op.source_path = f.url;
    op.type = EntryType::kRegular;
    op.mode = req_.chmod ? req_.chmod->Apply(0600, false) : 0600;
    if (req_.chown) {
      op.uid = req_.chown->uid;
      op.gid = req_.chown->gid;
    }
    op.size = f.size;
    op.digest = f.digest.ToString();
    op.mtime = f.mtime;
    op.unpack = req_.unpack_remotes;
    plan_.ops.push_back(std::move(op));
  }

  void AddHeredoc(const Heredoc& h, std::string dest) {
    CopyOp op;
    op.dest = std::move(dest);
    op.type = EntryType::kRegular;
    op.mode = req_.chmod ? req_.chmod->Apply(0644, false) : 0644;
    if (req_.chown) {
      op.uid = req_.chown->uid;
      op.gid = req_.chown->gid;
    }
    op.size = h.content.size();
    op.content = h.content;
    plan_.ops.push_back(std::move(op));
  }

  const BuildContext& tree_;
  const CopyRequest& req_;
  std::optional<IgnoreMatcher> exclude_;
  CopyPlan plan_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> links_;  // (dev, ino) -> first dest
};

}  // namespace

Result<std::optional<Chown>> ParseChown(std::string_view value) {
  if (value.empty()) return std::optional<Chown>{};
  Chown c;
  size_t colon = value.find(':');
  c.user = std::string(value.substr(0, colon));
  if (colon != std::string_view::npos) {
    c.group = std::string(value.substr(colon + 1));
    if (c.group.empty()) {
      return MakeError(ErrorKind::kInvalidArgument, "--chown={}: the group is empty", value);
    }
  }
  if (c.user.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "--chown={}: the user is empty", value);
  }
  return std::optional<Chown>(std::move(c));
}

Result<Owner> ResolveChown(const Chown& chown, const IdLookup& lookup) {
  Owner out;
  if (auto id = ParseId(chown.user)) {
    out = {*id, *id};
  } else {
    auto u = lookup.user ? lookup.user(chown.user) : std::nullopt;
    if (!u) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "unable to find user {}: no matching entries in passwd file", chown.user);
    }
    out = *u;
  }
  if (chown.group.empty()) return out;
  if (auto id = ParseId(chown.group)) {
    out.gid = *id;
  } else {
    auto g = lookup.group ? lookup.group(chown.group) : std::nullopt;
    if (!g) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "unable to find group {}: no matching entries in group file", chown.group);
    }
    out.gid = *g;
  }
  return out;
}

Result<Chmod> Chmod::Parse(std::string_view value) {
  Chmod m;
  m.text_ = std::string(value);
  if (value.empty()) return BadChmod(value);
  if (value[0] >= '0' && value[0] <= '9') {
    uint32_t v = 0;
    for (char c : value) {
      if (c < '0' || c > '7' || v > 07777) return BadChmod(value);
      v = v * 8 + static_cast<uint32_t>(c - '0');
    }
    if (v > 07777) return BadChmod(value);
    m.ops_ = {{Op::kClear, 07777, 0, 0}, {Op::kSet, v, 0, 0}};
    return m;
  }
  // BSD setmode's grammar: clause[,clause...], clause = who* (op perm*)+.
  auto add = [&](char op, uint32_t who, uint32_t perm) {
    if (op == '=') {
      m.ops_.push_back({Op::kClear, who != 0 ? who : kWhoAll, 0, 0});
      op = '+';
    }
    uint32_t bits = (who != 0 ? who : 07777) & perm;
    if (op == '+') m.ops_.push_back({Op::kSet, bits, 0, 0});
    if (op == '-') m.ops_.push_back({Op::kClear, bits, 0, 0});
    if (op == 'X') m.ops_.push_back({Op::kSetIfExecutable, bits, 0, 0});
  };
  size_t i = 0;
  for (;;) {
    uint32_t who = 0;
    for (; i < value.size(); ++i) {
      char c = value[i];
      if (c == 'a') {
        who |= kWhoAll;
      } else if (c == 'u') {
        who |= kWhoUser;
      } else if (c == 'g') {
        who |= kWhoGroup;
      } else if (c == 'o') {
        who |= kWhoOther;
      } else {
        break;
      }
    }
    if (i >= value.size()) return BadChmod(value);
    for (;;) {  // one op and its perms
      char op = value[i++];
      if (op != '+' && op != '-' && op != '=') return BadChmod(value);
      bool equal_done = op != '=';
      who &= ~kSticky;
      uint32_t perm = 0, perm_x = 0;
      for (;; ++i) {
        char c = i < value.size() ? value[i] : '\0';
        bool not_only_other = who == 0 || (who & ~kWhoOther) != 0;
        if (c == 'r') {
          perm |= 0444;
        } else if (c == 'w') {
          perm |= 0222;
        } else if (c == 'x') {
          perm |= 0111;
        } else if (c == 's') {
          if (not_only_other) perm |= 06000;
        } else if (c == 't') {
          if (not_only_other) {
            who |= kSticky;
            perm |= kSticky;
          }
        } else if (c == 'X') {
          // chmod(1): with `-` every execute bit goes anyway, so X is x; with `+` and `=` it
          // depends on the file (BuildKit's first parser ignored X after `=`: moby/buildkit#5835).
          if (op == '-') {
            perm |= 0111;
          } else {
            perm_x = 0111;
          }
        } else if (c == 'u' || c == 'g' || c == 'o') {
          if (perm != 0) add(op, who, perm);
          perm = 0;
          if (op == '=') equal_done = true;
          if (perm_x != 0) add('X', who, perm_x);
          perm_x = 0;
          Op copy{Op::kCopy, 0, c, op};
          copy.u = who == 0 || (who & 0400) != 0;
          copy.g = who == 0 || (who & 0040) != 0;
          copy.o = who == 0 || (who & 0004) != 0;
          m.ops_.push_back(copy);
        } else {
          if (perm != 0 || !equal_done) add(op, who, perm);
          if (perm_x != 0) add('X', who, perm_x);
          break;
        }
      }
      if (i >= value.size() || value[i] == ',') break;
    }
    if (i >= value.size()) return m;
    ++i;  // the ','
  }
}

uint32_t Chmod::Apply(uint32_t mode, bool directory) const {
  uint32_t orig = mode & 07777, out = orig;
  auto shift = [](char cls) { return cls == 'u' ? 6 : cls == 'g' ? 3 : 0; };
  for (const Op& op : ops_) {
    switch (op.kind) {
      case Op::kClear:
        out &= ~op.bits;
        break;
      case Op::kSet:
        out |= op.bits;
        break;
      case Op::kSetIfExecutable:
        if (directory || (orig & 0111) != 0) out |= op.bits;
        break;
      case Op::kCopy: {
        uint32_t v = (out >> shift(op.from)) & 7;
        for (char to : {'u', 'g', 'o'}) {
          bool on = to == 'u' ? op.u : to == 'g' ? op.g : op.o;
          if (!on) continue;
          int s = shift(to);
          if (op.op == '-') out &= ~(v << s);
          if (op.op == '=') out &= ~(7u << s);
          if (op.op == '+' || op.op == '=') out |= v << s;
        }
        break;
      }
    }
  }
  return out & 07777;
}

CopyDest ResolveCopyDest(std::string_view dest, std::string_view workdir) {
  CopyDest d;
  d.named_dir = dest.empty() || dest == "." || dest.back() == '/';
  std::string joined = !dest.empty() && dest[0] == '/'
                           ? std::string(dest)
                           : std::string(workdir.empty() ? "/" : workdir) + "/" + std::string(dest);
  d.path = CleanPath("/" + joined);
  return d;
}

Result<CopyPlan> PlanCopy(const BuildContext& tree, const CopyRequest& request) {
  return Planner(tree, request).Plan();
}

ArchiveCompression SniffCompression(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.starts_with(magic); };
  if (starts("\x1f\x8b")) return ArchiveCompression::kGzip;
  if (starts("BZh")) return ArchiveCompression::kBzip2;
  static constexpr char kXz[] = {'\xfd', '7', 'z', 'X', 'Z', '\0'};
  if (starts(std::string_view(kXz, sizeof kXz))) return ArchiveCompression::kXz;
  if (starts("\x28\xb5\x2f\xfd")) return ArchiveCompression::kZstd;
  return ArchiveCompression::kNone;
}

bool IsTarHeader(std::string_view block) {
  if (block.size() < 512) return false;
  if (block.substr(257, 5) == "ustar") return true;
  // A v7 header: the checksum field (octal, at 148) is the sum of the header's bytes with the
  // field itself counted as spaces.
  std::string_view field = block.substr(148, 8);
  uint32_t want = 0;
  bool digits = false;
  for (char c : field) {
    if (c >= '0' && c <= '7') {
      want = want * 8 + static_cast<uint32_t>(c - '0');
      digits = true;
    } else if (c != ' ' && c != '\0') {
      return false;
    } else if (digits) {
      break;
    }
  }
  if (!digits || block[0] == '\0') return false;
  uint32_t sum = 0;
  for (size_t i = 0; i < 512; ++i)
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
  return sum == want;
}

}  // namespace berth::build
