// Test-only: a tiny HTTP/1.1 server on 127.0.0.1 for fault injection (5xx, 429, bodies cut
// mid-way, stalls) and for a Bearer token endpoint. One thread accepts; each connection gets a
// thread that answers one request and closes ("Connection: close"), so a handler may sleep
// without blocking the next request. Not for production use: the product speaks HTTP only
// through libcurl.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/unique_fd.h"

namespace berth::registry::testing {

struct FakeRequest {
  std::string method;
  std::string target;  // path and query
  std::string path;
  std::string query;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Send only this many body bytes (after headers announcing all of them), then close.
  std::optional<size_t> cut_after;
  // Keep a cut response's connection open and silent this long: a stalled transfer.
  std::chrono::milliseconds stall{0};
  // After `body`, this many more bytes ('x'), written 64 KiB at a time: a huge body the server
  // never holds. Content-Length counts them unless no_content_length.
  uint64_t filler = 0;
  // No Content-Length header: the body ends when the server closes the connection.
  bool no_content_length = false;
};

class FakeServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_.get(), 64) != 0)
      return;
    socklen_t len = sizeof addr;
    ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~FakeServer() {
    stop_ = true;
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> conns;
    {
      std::lock_guard lock(mu_);
      conns.swap(conns_);
    }
    for (auto& t : conns) t.join();
  }

  int port() const { return port_; }
  std::string domain() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + domain(); }

  std::vector<FakeRequest> requests() const {
    std::lock_guard lock(mu_);
    return log_;
  }
  size_t CountRequests(const std::string& path_prefix) const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& r : log_)
      if (r.path.rfind(path_prefix, 0) == 0) ++n;
    return n;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      conns_.emplace_back([this, fd] { Serve(UniqueFd(fd)); });
    }
  }

  static bool ReadSome(int fd, std::string* buf) {
    char tmp[16384];
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf->append(tmp, static_cast<size_t>(n));
    return true;
  }

  // False once the client is gone.
  static bool WriteAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Serve(UniqueFd fd) {
    std::string buf;
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos)
      if (!ReadSome(fd.get(), &buf)) return;
    FakeRequest req;
    std::string head = buf.substr(0, head_end);
    buf.erase(0, head_end + 4);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        req.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = e + 2;
    }
    size_t want = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end())
      want = std::stoul(it->second);
    while (buf.size() < want)
      if (!ReadSome(fd.get(), &buf)) return;
    req.body = buf.substr(0, want);
    {
      std::lock_guard lock(mu_);
      log_.push_back(req);
    }

    FakeResponse resp = handler_(req);
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " Fake\r\n";
    bool has_length = false;
    for (const auto& [k, v] : resp.headers) {
      out += k + ": " + v + "\r\n";
      std::string lower = k;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "content-length") has_length = true;
    }
    if (!has_length && !resp.no_content_length)
      out += "Content-Length: " + std::to_string(resp.body.size() + resp.filler) + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (req.method != "HEAD") {
      size_t n = resp.cut_after ? std::min(*resp.cut_after, resp.body.size()) : resp.body.size();
      out.append(resp.body, 0, n);
    }
    bool sent = WriteAll(fd.get(), out);
    if (req.method != "HEAD" && !resp.cut_after) {
      const std::string piece(64 << 10, 'x');
      for (uint64_t left = resp.filler; sent && left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, piece.size()));
        sent = WriteAll(fd.get(), std::string_view(piece).substr(0, n));
        left -= n;
      }
    }
    if (resp.cut_after && resp.stall.count() > 0) {
      // Hold the connection open, silent, until the stall ends or the client hangs up.
      pollfd p{fd.get(), POLLIN | POLLRDHUP, 0};
      ::poll(&p, 1, static_cast<int>(resp.stall.count()));
    }
    ::shutdown(fd.get(), SHUT_RDWR);
  }

  Handler handler_;
  UniqueFd listen_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<FakeRequest> log_;
};

// A response with a status and a (JSON) body.
inline FakeResponse StatusResponse(int code, std::string body = {}) {
  FakeResponse r;
  r.status = code;
  r.body = std::move(body);
  r.headers = {{"Content-Type", "application/json"}};
  return r;
}

// Serves `data`, honoring "Range: bytes=N-" with 206 as registries do.
inline FakeResponse ServeRange(const FakeRequest& req, const std::string& data) {
  FakeResponse r;
  std::string range = req.Header("range");
  size_t start = 0;
  if (range.rfind("bytes=", 0) == 0) {
    start = std::stoul(range.substr(6));
    r.status = 206;
    r.headers.push_back({"Content-Range", "bytes " + std::to_string(start) + "-" +
                                              std::to_string(data.size() - 1) + "/" +
                                              std::to_string(data.size())});
  }
  r.body = data.substr(start);
  return r;
}

}  // namespace berth::registry::testing
