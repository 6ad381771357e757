// A client for the OCI distribution API (/v2/) over libcurl.
//
// One Client holds one CURLSH share (connections, DNS, TLS sessions), so the requests of a pull
// reuse keep-alive HTTP/1.1 connections; it is safe to call from several threads at once
// (parallel layer downloads).
//
// Transport: HTTPS, except plain HTTP for loopback registries (localhost, 127.0.0.0/8, ::1), as
// Docker does, and for hosts listed in Options::insecure_registries.
//
// Robustness: connection errors, 429 and 5xx are retried with exponential backoff (honoring
// Retry-After) up to Options::max_attempts; stalls are cut by a low-speed limit; resumes after
// progress are bounded by max_resumes, and everything by total_timeout. A 401 triggers
// one round of authentication (a Bearer token from the challenge's realm, or Basic) and a retry.
// Errors keep their ErrorKind: 401/403 after authenticating -> kPermissionDenied; missing
// manifests and blobs -> kNotFound; exhausted retries -> kUnavailable; digest or size mismatch
// -> kDataLoss.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/digest.h"
#include "oci/image_spec.h"
#include "registry/auth.h"
#include "registry/reference.h"

namespace berth::registry {

// Where credentials come from: given a reference's domain ("docker.io", "localhost:5000"),
// returns its credentials or nullopt for anonymous access.
using CredentialFunc = std::function<Result<std::optional<Credentials>>(std::string_view domain)>;

// Credentials read from a Docker config file (~/.docker/config.json), read at each lookup. A
// Client looks each domain up once and keeps the answer for its lifetime.
CredentialFunc CredentialsFromDockerConfig(std::string path);

struct Options {
  // "host" or "host:port" reached over plain HTTP (loopback always is).
  std::vector<std::string> insecure_registries;
  CredentialFunc credentials;  // empty: anonymous
  std::string ca_file;         // extra CA bundle; empty: the system's

  // Retries for connection errors, 429 and 5xx: attempt n waits
  // min(initial_backoff * 2^(n-1), max_backoff), or Retry-After when the registry sends one.
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{10'000};
  // A Retry-After longer than this fails at once instead of sleeping.
  std::chrono::milliseconds max_retry_after{60'000};

  // A transfer that moved bytes before it broke is resumed without using up max_attempts, but
  // at most max_resumes times per request: a registry that sends a byte per connection and
  // hangs up cannot keep a transfer alive for ever.
  int max_resumes = 20;

  std::chrono::milliseconds connect_timeout{30'000};
  // A transfer slower than low_speed_limit bytes/s for low_speed_time is cut (and retried).
  long low_speed_limit = 1024;
  std::chrono::seconds low_speed_time{30};
  // Every request made through the client (retries and backoff included) must end within this
  // long of the client's creation; 0: no limit. A pull's overall deadline (pull-timeout).
  std::chrono::milliseconds total_timeout{0};
  // Whole-request limit for small requests (manifests, tokens, HEAD); blobs have none.
  std::chrono::milliseconds request_timeout{120'000};

  // PATCH size for blob uploads.
  size_t upload_chunk_size = 32u << 20;
  std::string user_agent = "berth/0.1";
};

struct Manifest {
  std::string bytes;       // exactly as served: the digest is over these
  std::string media_type;  // from Content-Type, or the body's "mediaType"
  oci::Digest digest;
};

// Receives a blob's bytes in order. An error aborts the transfer and is returned as is.
using BlobSink = std::function<Result<void>(std::string_view chunk)>;
// Reads up to `len` bytes of a blob at `offset` into `buf`; returns the count (0 only at the
// end). Random access so a failed upload can be sent again.
using BlobSource = std::function<Result<size_t>(uint64_t offset, char* buf, size_t len)>;
BlobSource BlobSourceFromString(std::string data);  // the source owns a copy
// Reads a file with pread(); the file is opened on first use and stays open with the source.
BlobSource BlobSourceFromFile(const std::string& path);

enum class PushOutcome { kUploaded, kAlreadyExists, kMounted };

class Client {
 public:
  explicit Client(Options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // GET /v2/: the registry speaks the API and accepts our credentials (an anonymous token is
  // fine). A Basic-auth registry without credentials is kPermissionDenied.
  Result<void> Ping(std::string_view domain);

  // OCI index, Docker manifest list, OCI manifest, Docker schema 2 manifest.
  static const std::vector<std::string>& DefaultManifestAccept();

  // Fetches ref's manifest (by digest when it has one, else by tag). Pulled by digest, the
  // bytes must hash to it; pulled by tag, the digest is computed and must equal
  // Docker-Content-Digest when the registry sends one. 404: kNotFound "image not found: REF".
  Result<Manifest> GetManifest(const Reference& ref,
                               const std::vector<std::string>& accept = DefaultManifestAccept());

  // HEAD /v2/<repo>/blobs/<digest>: the blob's size when present, nullopt when not.
  Result<std::optional<int64_t>> HeadBlob(const Reference& repo, const oci::Digest& digest);

  // What GetBlob checks besides the size. kSizeOnly is for a sink that hashes the bytes itself
  // (the store's blob writer does): hashing them here too would double the pull's hashing of
  // compressed bytes.
  enum class BlobCheck { kDigest, kSizeOnly };

  // Streams a blob into `sink`, starting at `offset` (HTTP Range). A connection cut mid-body is
  // resumed with Range from the last byte delivered, so the sink sees every byte once and in
  // order. The size is always checked; with kDigest the digest is checked when offset is 0 (a
  // caller that resumes from its own offset holds the hash state of the first part). When the
  // registry does not have the blob and the descriptor lists foreign `urls`, those are tried in
  // order. On error the sink may have received part of the blob.
  Result<void> GetBlob(const Reference& repo, const oci::Descriptor& blob, const BlobSink& sink,
                       BlobCheck check = BlobCheck::kDigest, uint64_t offset = 0);

  // What GetUrl learned about a file besides its bytes.
  struct UrlFile {
    uint64_t size = 0;
    std::optional<int64_t> last_modified;  // Last-Modified, in seconds since the epoch
  };
  // A plain GET of any http:// or https:// URL, outside the distribution API (ADD <URL> in
  // builds): no registry credentials go with it; redirects are followed (at most 10, never from
  // HTTPS to plain HTTP); connection errors and 429/5xx are retried as registry requests are.
  // The body of the final 2xx response goes to `sink`; an attempt that fails after some bytes
  // starts the body over, and `restart` is called before the sink sees its first byte again.
  // Bounded: a body over `max_bytes` is refused before a byte is read when the server announces
  // its length (CURLOPT_MAXFILESIZE_LARGE), else when it gets there; a stalled transfer is cut
  // by the low-speed limit; everything by Options::total_timeout. Errors (one line, naming the
  // URL): 404 and 410 are kNotFound, other statuses and transport failures kUnavailable, a
  // body over the limit says so with the limit, the sink's and restart's errors are as they are.
  Result<UrlFile> GetUrl(const std::string& url, uint64_t max_bytes, const BlobSink& sink,
                         const std::function<Result<void>()>& restart);

  // Uploads a blob unless the registry has it (HEAD): with `mount_from` (a repository path on the
  // same registry) a cross-repository mount is tried first; otherwise or when the registry
  // declines, POST an upload session, PATCH it in chunks, PUT ?digest=.
  Result<PushOutcome> PushBlob(const Reference& repo, const oci::Descriptor& blob,
                               const BlobSource& source, std::string_view mount_from = {});

  // PUT a manifest under ref's tag (or digest); returns its digest, checked against the
  // registry's Docker-Content-Digest.
  Result<oci::Digest> PutManifest(const Reference& ref, std::string_view bytes,
                                  std::string_view media_type);

  // Whether requests to `domain` use plain HTTP.
  bool IsInsecure(std::string_view domain) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Picks the manifest for `want` from an index: an exact match (after normalization; a want
// without variant takes any variant), else for 32-bit ARM the best lower variant. `ref` names
// the image in the error:
//   image docker.io/library/x:1 has no variant for linux/ppc64le
//   (available: linux/amd64, linux/arm64/v8)
Result<oci::Descriptor> SelectPlatform(const oci::ImageIndex& index, const oci::Platform& want,
                                       std::string_view ref);

}  // namespace berth::registry
