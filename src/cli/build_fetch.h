// ADD <URL>'s downloads for `berth build`: the IO half of build/remote.h. Each http(s) source is
// fetched with registry::Client::GetUrl (libcurl with the registry client's TLS, CA bundle,
// proxy variables from the environment, retries and low-speed limit) into a file of the build's
// work directory, hashed as it arrives. The builder fetches every URL at every build and keys
// the step on the content's digest, so an unchanged file gives a CACHED step.
// Downloads are the builder's, not a step's: they are made whatever --network says (BuildKit
// fetches ADD URLs in the builder too). Unlike BuildKit's Go client, a redirect from HTTPS to
// plain HTTP is refused, and no credentials are sent (BuildKit's HTTP_AUTH_HEADER_<host>
// secrets are not read).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "build/remote.h"
#include "image/settings.h"
#include "registry/client.h"

namespace berth::cli {

// The client options of a build's downloads: the registry defaults with the settings' transfer
// limits (pull-timeout bounds each download, low-speed-limit/-time cut stalls), three attempts.
registry::Options DownloadOptions(const image::Settings& settings);

// Downloads `url` into `file` (created 0600, replaced if there), at most `max_bytes`. Errors
// name the URL, one line: "fetching https://h/f: HTTP 404".
Result<build::RemoteFile> Download(const std::string& url, const std::string& file,
                                   uint64_t max_bytes, const registry::Options& options);

}  // namespace berth::cli
