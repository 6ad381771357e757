// An HTTPS registry that redirects a blob to plain HTTP must be refused, end to end over real
// TLS: the registry (a Python TLS server with a certificate made here) listens on a
// non-loopback address (loopback registries are plain HTTP by design), inside a network
// namespace of this test's own so nothing on the host changes. The control: the same registry
// redirecting to HTTPS serves the blob, so the refusal is the redirect policy, not the TLS setup.
// Root (a network namespace), python3 and openssl.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "base/fs.h"
#include "oci/digest.h"
#include "registry/client.h"

namespace berth::registry {
namespace {

constexpr const char* kAddr = "10.77.0.1";

constexpr const char* kServer = R"PY(
import http.server, ssl, sys, threading
addr, cert, key, hits = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
BLOB = b"a blob behind a redirect\n"
class Tls(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/v2/":
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
        elif self.path == "/real":
            self.send_response(200); self.send_header("Content-Length", str(len(BLOB))); self.end_headers()
            self.wfile.write(BLOB)
        elif "to-https" in self.path or self.path.endswith(sys.argv[5]):
            self.send_response(302); self.send_header("Location", "https://%s:8443/real" % addr)
            self.send_header("Content-Length", "0"); self.end_headers()
        else:
            self.send_response(302); self.send_header("Location", "http://%s:8080/real" % addr)
            self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
class Plain(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        open(hits, "a").write(self.path + "\n")
        self.send_response(200); self.send_header("Content-Length", str(len(BLOB))); self.end_headers()
        self.wfile.write(BLOB)
    def log_message(self, *a): pass
plain = http.server.HTTPServer((addr, 8080), Plain)
threading.Thread(target=plain.serve_forever, daemon=True).start()
tls = http.server.HTTPServer((addr, 8443), Tls)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
print("ready", flush=True)
tls.serve_forever()
)PY";

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// In the child, inside its own network namespace: 0 when every expectation held, else a code
// naming the first that did not (printed on stderr).
int RunInNamespace(const std::string& dir) {
  if (::unshare(CLONE_NEWNET) != 0) return 10;
  if (Sh(std::string("ip link set lo up && ip addr add ") + kAddr + "/32 dev lo") != 0) return 11;
  std::string blob = "a blob behind a redirect\n";
  oci::Digest good = oci::Sha256Of(blob);
  std::string hits = dir + "/hits";
  std::string cmd = "python3 " + dir + "/server.py " + kAddr + " " + dir + "/cert.pem " + dir +
                    "/key.pem " + hits + " " + good.hex + " > " + dir + "/server.out 2>&1 &";
  if (Sh(cmd) != 0) return 12;
  for (int i = 0; i < 100 && fs::ReadFile(dir + "/server.out").value_or("").find("ready") ==
                                   std::string::npos;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

  Options o;
  o.ca_file = dir + "/cert.pem";
  o.max_attempts = 1;
  Client client(o);
  Reference repo{std::string(kAddr) + ":8443", "test/redirect", "", ""};
  oci::Descriptor d;
  d.media_type = oci::media_type::kOciLayer;
  d.size = static_cast<int64_t>(blob.size());
  // Control: HTTPS to HTTPS is followed and the blob arrives.
  d.digest = good;
  std::string got;
  auto ok = client.GetBlob(repo, d, [&](std::string_view c) -> Result<void> {
    got.append(c);
    return {};
  });
  if (!ok) {
    std::fprintf(stderr, "control failed: %s\n", ok.error().message().c_str());
    return 20;
  }
  if (got != blob) return 21;
  // HTTPS to HTTP: refused, and the plain server never sees the request.
  d.digest = oci::Sha256Of("another blob");
  auto refused = client.GetBlob(repo, d, [](std::string_view) -> Result<void> { return {}; });
  if (refused) return 30;
  std::fprintf(stderr, "refused: %s\n", refused.error().message().c_str());
  if (refused.error().message().find("refusing a redirect from HTTPS to plain HTTP") ==
      std::string::npos)
    return 31;
  if (fs::Exists(hits)) return 32;
  return 0;
}

TEST(TlsRedirectTest, HttpsToHttpRedirectIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "host: needs root (a network namespace)";
  if (Sh("command -v python3 >/dev/null && command -v openssl >/dev/null && command -v ip >/dev/null") != 0)
    GTEST_SKIP() << "needs python3, openssl and ip";
  char tmpl[] = "/tmp/berth-tls-redirect-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(fs::WriteFileAtomic(dir + "/server.py", kServer));
  ASSERT_EQ(Sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=berth-test "
               "-addext subjectAltName=IP:" + std::string(kAddr) + " -keyout " + dir +
               "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1"),
            0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = RunInNamespace(dir);
    // The servers die with the namespace's last process gone: kill our process group's python.
    Sh("pkill -f '" + dir + "/server.py' >/dev/null 2>&1");
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the codes in RunInNamespace";
  (void)fs::RemoveAll(dir);
}

}  // namespace
}  // namespace berth::registry
