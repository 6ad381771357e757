// Input named on the command line that may be a pipe: a FIFO, /dev/stdin, or "-" for stdin.
// load walks an archive in several passes and import measures a tarball before copying it, so
// both need input they can read more than once: a regular file is read in place, anything else
// is copied once into the store's tmp/ (removed with the LocalInput).
#pragma once

#include <optional>
#include <string>

#include "base/result.h"
#include "store/store.h"

namespace berth::image {

class LocalInput {
 public:
  // kNotFound "INPUT: no such file" for a missing path.
  static Result<LocalInput> Open(const store::Store& store, const std::string& input);

  // Where to read from: the input itself, or its copy.
  const std::string& path() const { return copy_ ? copy_->path() : input_; }
  // `e` with the copy's path replaced by the input's name ("stdin" for "-").
  Error Named(Error e) const;

 private:
  std::string input_;
  std::optional<store::internal::TempEntry> copy_;
};

}  // namespace berth::image
