#include "io/remote.h"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "io/s3_sign.h"

namespace zm::io {

namespace {

std::once_flag curl_ready;

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The server stopped answering in a way worth another attempt (5xx, 408, 429, a cut).
struct Transient : RemoteReadError {
  using RemoteReadError::RemoteReadError;
};
// 200 to a ranged GET asked with need_range: the server ignores Range.
struct NoRanges {};

}  // namespace

bool is_remote(std::string_view a) {
  return starts_with(a, "http://") || starts_with(a, "https://") || starts_with(a, "s3://");
}

std::string redact_url(std::string_view url) {
  std::string u(url);
  const auto scheme = u.find("://");
  if (scheme == std::string::npos) return u;
  const auto host_start = scheme + 3;
  const auto path_start = std::min(u.find_first_of("/?#", host_start), u.size());
  const auto at = u.rfind('@', path_start);
  if (at != std::string::npos && at >= host_start) {
    const auto colon = u.find(':', host_start);
    if (colon != std::string::npos && colon < at) u.replace(colon + 1, at - colon - 1, "***");
  }
  // Presigned URLs carry their credential in the query: X-Amz-Signature, X-Amz-Credential,
  // X-Amz-Security-Token, and other services' token=, sig=, password=.
  const auto q = u.find('?');
  if (q == std::string::npos) return u;
  std::string out = u.substr(0, q + 1);
  std::size_t i = q + 1;
  while (i <= u.size()) {
    std::size_t j = std::min(u.find('&', i), u.size());
    std::string part = u.substr(i, j - i);
    const auto eq = part.find('=');
    const std::string name = lower(part.substr(0, eq));
    for (const char* secret : {"signature", "credential", "token", "sig", "password", "secret", "key"})
      if (eq != std::string::npos && name.find(secret) != std::string::npos) part = part.substr(0, eq + 1) + "***";
    out += part;
    if (j < u.size()) out += '&';
    i = j + 1;
  }
  return out;
}

// Where requests go: a URL as given, or an S3 object's URL with what signing it needs.
struct Remote::Target {
  std::string url;
  bool s3 = false;
  std::string host, path, region;  // S3: the Host header and the encoded path that are signed
  S3Credentials cred;
};

namespace {

std::unique_ptr<Remote::Target> s3_target(const std::string& arg, const RemoteOptions& opt) {
  auto t = std::make_unique<Remote::Target>();
  t->s3 = true;
  const std::string rest = arg.substr(5);
  const auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size())
    throw RemoteOpenError(arg + ": an S3 location is s3://BUCKET/KEY");
  const std::string bucket = rest.substr(0, slash), key = rest.substr(slash + 1);
  t->region = s3_find_region();
  t->cred = s3_find_credentials();
  std::string endpoint = opt.s3_endpoint;
  for (const char* v : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"})
    if (endpoint.empty()) endpoint = env(v);
  bool path_style = opt.s3_path_style;
  if (endpoint.empty()) endpoint = "https://s3." + t->region + ".amazonaws.com";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  const auto scheme_end = endpoint.find("://");
  if (scheme_end == std::string::npos) throw RemoteOpenError(endpoint + ": the S3 endpoint is not a URL");
  const std::string scheme = endpoint.substr(0, scheme_end + 3);
  std::string host = endpoint.substr(scheme_end + 3);
  // A bucket name with dots cannot be a host name under a wildcard certificate; an endpoint given
  // as an address has no names under it at all: both take the bucket in the path.
  path_style |= bucket.find('.') != std::string::npos || host.find_first_not_of("0123456789.:[]") == std::string::npos ||
                starts_with(host, "localhost");
  if (path_style) {
    t->path = "/" + s3_encode_path(bucket) + "/" + s3_encode_path(key);
  } else {
    host = bucket + "." + host;
    t->path = "/" + s3_encode_path(key);
  }
  t->host = host;
  t->url = scheme + host + t->path;
  return t;
}

}  // namespace

Remote::Remote(const std::string& arg, const RemoteOptions& opt) : opt_(opt), shown_(redact_url(arg)) {
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (starts_with(arg, "s3://")) {
    target_ = s3_target(arg, opt);
  } else {
    target_ = std::make_unique<Target>();
    target_->url = arg;
  }
}

Remote::~Remote() = default;

Connection::Connection() : h_(curl_easy_init()) {
  if (!h_) throw RemoteReadError("libcurl: cannot make a handle");
}

Connection::~Connection() { curl_easy_cleanup(static_cast<CURL*>(h_)); }

namespace {

// One request's answer, as far as the headers go. Headers of a redirect's answer are dropped
// when the next status line comes.
struct Answer {
  long status = 0;
  std::string etag, last_modified, content_range;
  std::int64_t content_length = -1;
};

struct Exchange {
  CURL* h;
  Answer answer;
  std::function<std::uint64_t(const Answer&)> start;  // called once before the body: bytes to skip
  const Remote::Sink* sink = nullptr;
  std::uint64_t skip = 0, delivered = 0;
  bool started = false;
  std::exception_ptr error;
};

std::size_t on_header(char* p, std::size_t size, std::size_t n, void* ud) {
  auto& a = static_cast<Exchange*>(ud)->answer;
  std::string line(p, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (starts_with(line, "HTTP/")) {
    a = Answer{};
    auto sp = line.find(' ');
    if (sp != std::string::npos) a.status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  const std::string name = lower(line.substr(0, colon));
  std::string value = line.substr(colon + 1);
  value.erase(0, std::min(value.find_first_not_of(" \t"), value.size()));
  if (name == "etag") a.etag = value;
  else if (name == "last-modified") a.last_modified = value;
  else if (name == "content-range") a.content_range = value;
  else if (name == "content-length") a.content_length = std::strtoll(value.c_str(), nullptr, 10);
  return size * n;
}

std::size_t on_body(char* p, std::size_t size, std::size_t n, void* ud) {
  auto& x = *static_cast<Exchange*>(ud);
  std::size_t len = size * n;
  try {
    if (!x.started) {
      x.started = true;
      x.skip = x.start(x.answer);
    }
    std::size_t drop = std::size_t(std::min<std::uint64_t>(x.skip, len));
    x.skip -= drop;
    if (len > drop) {
      (*x.sink)({reinterpret_cast<const std::uint8_t*>(p) + drop, len - drop});
      x.delivered += len - drop;
    }
    return len;
  } catch (...) {
    x.error = std::current_exception();
    return 0;  // CURLE_WRITE_ERROR: the transfer stops
  }
}

}  // namespace

namespace {

// Settings every request shares: safe redirects, TLS verified, timeouts that notice a stall.
void common_settings(CURL* h, const Remote::Target& t, const RemoteOptions& o, char* errbuf) {
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, t.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  // A signed S3 request is for one host: no redirect. Otherwise https only goes to https, and
  // http to http or https; credentials are not sent to another host (libcurl's default).
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, t.s3 ? 0L : 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, starts_with(t.url, "https://") ? "https" : "http,https");
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!o.cacert.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o.cacert.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, long(o.timeout));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, long(o.timeout));
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "zipmedic/" ZIPMEDIC_VERSION);
}

struct Headers {
  curl_slist* list = nullptr;
  ~Headers() { curl_slist_free_all(list); }
  void add(const std::string& name, const std::string& value) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
};

void request_headers(Headers& hs, const Remote::Target& t, const char* method, const std::string& range,
                     const std::string& if_range) {
  if (!range.empty()) hs.add("Range", range);
  if (!if_range.empty()) hs.add("If-Range", if_range);
  if (!t.s3) return;
  S3Request req;
  req.method = method;
  req.path = t.path;
  req.headers = {{"host", t.host}};
  if (!range.empty()) req.headers.push_back({"range", range});
  for (const auto& [k, v] : s3_sign(req, t.cred, t.region, std::time(nullptr))) hs.add(k, v);
}

std::string status_words(long status) {
  switch (status) {
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 401: return "401 Unauthorized";
    case 416: return "416 Range Not Satisfiable";
    default: return std::to_string(status);
  }
}

bool transient_status(long s) { return s == 408 || s == 429 || s >= 500; }

bool transient_code(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

std::string changed(const std::string& shown, const std::string& what) {
  return shown + ": the object changed while being read (" + what +
         "); nothing read before the change is used: run the command again";
}

// The answer to a GET of [want, to] (open when `to` is none): how many bytes of its body come
// before `want`. Throws ObjectChanged when it is another object than `obj`.
std::uint64_t judge_answer(const Answer& a, const RemoteObject& obj, std::uint64_t want, const std::string& shown,
                           bool need_range) {
  auto differs = [&](const std::string& was, const std::string& now, const char* name) {
    if (!was.empty() && !now.empty() && was != now)
      throw ObjectChanged(changed(shown, std::string(name) + " " + was + " became " + now));
  };
  if (a.status == 412) throw ObjectChanged(changed(shown, "412 Precondition Failed"));
  if (a.status == 206) {
    unsigned long long from = 0, last = 0, total = 0;
    if (std::sscanf(a.content_range.c_str(), "bytes %llu-%llu/%llu", &from, &last, &total) != 3)
      throw RemoteReadError(shown + ": a 206 answer without a usable Content-Range (\"" + a.content_range + "\")");
    differs(obj.etag, a.etag, "ETag");
    if (obj.etag.empty()) differs(obj.last_modified, a.last_modified, "Last-Modified");
    if (obj.size_known && total != obj.size)
      throw ObjectChanged(changed(shown, "its size was " + std::to_string(obj.size) + " and is " + std::to_string(total)));
    if (from != want)
      throw RemoteReadError(shown + ": asked for bytes from " + std::to_string(want) + ", the server sent them from " +
                    std::to_string(from));
    return 0;
  }
  if (a.status == 200) {
    // Either the server ignores Range, or If-Range found another object: the validators tell.
    differs(obj.etag, a.etag, "ETag");
    if (obj.etag.empty()) differs(obj.last_modified, a.last_modified, "Last-Modified");
    if (obj.size_known && a.content_length >= 0 && std::uint64_t(a.content_length) != obj.size)
      throw ObjectChanged(changed(shown, "its size was " + std::to_string(obj.size) + " and is " +
                                             std::to_string(a.content_length)));
    if (need_range) throw NoRanges{};
    return want;
  }
  if (a.status == 416 && obj.size_known) throw ObjectChanged(changed(shown, "416: it is shorter than it was"));
  if (transient_status(a.status)) throw Transient(shown + ": the server answered " + std::to_string(a.status));
  throw RemoteOpenError(shown + ": the server answered " + status_words(a.status));
}

void backoff(unsigned fails) {
  if (fails == 0) return;
  const auto ms = std::min(100u << std::min(fails - 1, 7u), 5000u);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

RemoteObject Remote::head(Connection& c) const {
  CURL* h = static_cast<CURL*>(c.handle());
  for (unsigned fails = 0;; ++fails) {
    char errbuf[CURL_ERROR_SIZE] = "";
    common_settings(h, *target_, opt_, errbuf);
    Headers hs;
    request_headers(hs, *target_, "HEAD", "", "");
    Exchange x{h};
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs.list);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    CURLcode rc = curl_easy_perform(h);
    const Answer& a = x.answer;
    if (rc == CURLE_OK && a.status == 200) {
      RemoteObject o;
      o.etag = a.etag;
      o.last_modified = a.last_modified;
      o.size_known = a.content_length >= 0;
      o.size = o.size_known ? std::uint64_t(a.content_length) : 0;
      return o;
    }
    // Some servers do not answer HEAD (405, 501): the size is then learnt from the stream.
    if (rc == CURLE_OK && (a.status == 405 || a.status == 501)) return {};
    const bool again = rc == CURLE_OK ? transient_status(a.status) : transient_code(rc);
    const std::string why = rc == CURLE_OK ? "the server answered " + status_words(a.status)
                                           : std::string(*errbuf ? errbuf : curl_easy_strerror(rc));
    if (!again || fails >= opt_.retries) {
      std::string hint = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE
                             ? " (the certificate is not trusted: --cacert FILE adds a CA)"
                             : "";
      throw RemoteOpenError(shown_ + ": cannot open: " + why + hint);
    }
    backoff(fails + 1);
  }
}

bool Remote::read_loop(Connection& c, const RemoteObject& obj, std::uint64_t from, std::optional<std::uint64_t> to,
                       const Sink& sink, bool need_range) const {
  CURL* h = static_cast<CURL*>(c.handle());
  std::uint64_t pos = from;
  const bool whole = from == 0 && !to && !need_range;  // a plain GET, the stream's first request
  for (unsigned fails = 0;;) {
    char errbuf[CURL_ERROR_SIZE] = "";
    common_settings(h, *target_, opt_, errbuf);
    const bool resumed = pos != from;
    std::string range;
    if (!(whole && !resumed)) range = "bytes=" + std::to_string(pos) + "-" + (to ? std::to_string(*to) : "");
    Headers hs;
    request_headers(hs, *target_, "GET", range, resumed ? obj.validator() : "");
    Exchange x{h};
    const std::uint64_t want = pos;
    x.start = [&](const Answer& a) { return judge_answer(a, obj, want, shown_, need_range); };
    Sink counted = [&](std::span<const std::uint8_t> b) {
      sink(b);
      pos += b.size();
    };
    x.sink = &counted;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs.list);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    CURLcode rc = curl_easy_perform(h);
    std::string why;
    try {
      if (x.error) std::rethrow_exception(x.error);
      // An empty body never calls on_body: its answer is judged here.
      if (rc == CURLE_OK && !x.started) judge_answer(x.answer, obj, want, shown_, need_range);
      const bool complete = to ? pos == *to + 1 : rc == CURLE_OK && (!obj.size_known || pos == obj.size);
      if (rc == CURLE_OK && complete) return true;
      if (rc != CURLE_OK && !transient_code(rc)) {
        std::string hint = rc == CURLE_PEER_FAILED_VERIFICATION ? " (the certificate is not trusted: --cacert FILE adds a CA)" : "";
        throw RemoteOpenError(shown_ + ": " + (*errbuf ? errbuf : curl_easy_strerror(rc)) + hint);
      }
      why = rc == CURLE_OK ? "the answer ended early" : *errbuf ? errbuf : curl_easy_strerror(rc);
    } catch (const NoRanges&) {
      return false;
    } catch (const Transient& e) {
      why = e.what();
    }
    // A cut after some bytes is resumed at once; attempts that bring nothing back off.
    fails = pos > want ? 0 : fails + 1;
    if (fails > opt_.retries)
      throw RemoteReadError(shown_ + ": gave up at byte " + std::to_string(pos) + " after " + std::to_string(fails) +
                    " attempts: " + why);
    backoff(fails);
  }
}

void Remote::read(Connection& c, const RemoteObject& obj, std::uint64_t from, std::optional<std::uint64_t> to,
                  const Sink& sink) const {
  read_loop(c, obj, from, to, sink, false);
}

bool Remote::read_ranged(Connection& c, const RemoteObject& obj, std::uint64_t from, std::uint64_t to,
                         const Sink& sink) const {
  return read_loop(c, obj, from, to, sink, true);
}

}  // namespace zm::io

namespace zm::io {

// The block cache. A slot holds one block; a reader that needs a block not there queues it at
// the front and waits, read-ahead queues the next ones at the back while free slots last.
// Slots being fetched, or whose bytes a reader is copying out (pins), are not reused.
struct HttpSource::State {
  enum class Is { free, queued, fetching, ready, failed };
  struct Slot {
    std::uint64_t block = 0;
    Is is = Is::free;
    std::unique_ptr<std::uint8_t[]> data;
    std::size_t len = 0;
    std::size_t want = 0;  // bytes to fetch from the block's start: all of it, or its head
    unsigned pins = 0;
    std::uint64_t stamp = 0;  // when last used (or fetched): the oldest goes first
    bool used = false;        // read at least once: a block read ahead and not yet used stays
    std::exception_ptr error;
  };
  std::mutex mu;
  std::condition_variable done, work;
  std::vector<Slot> slots;
  std::unordered_map<std::uint64_t, std::size_t> where;
  std::deque<std::size_t> queue;
  std::vector<std::thread> threads;
  std::uint64_t clock = 0;
  bool stop = false;
  unsigned ahead = 2;

  static constexpr std::size_t npos = ~std::size_t(0);
  // A slot for a new block: a free one, else the oldest used one, else (for a reader, never for
  // read-ahead) the oldest block read ahead.
  std::size_t take(bool for_reader) {
    std::size_t best = npos;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      auto& s = slots[i];
      if (s.is == Is::free) return i;
      if (s.is != Is::ready || s.pins || (!s.used && !for_reader)) continue;
      if (best == npos || (s.used && !slots[best].used) ||
          (s.used == slots[best].used && s.stamp < slots[best].stamp))
        best = i;
    }
    if (best != npos) where.erase(slots[best].block), slots[best].is = Is::free;
    return best;
  }
  bool request(std::uint64_t block, bool for_reader, std::size_t want = kBlock) {
    if (where.count(block)) return true;
    std::size_t s = take(for_reader);
    if (s == npos) return false;
    slots[s].block = block;
    slots[s].want = want;
    slots[s].is = Is::queued;
    slots[s].used = false;
    slots[s].error = nullptr;
    where[block] = s;
    if (for_reader)
      queue.push_front(s);
    else
      queue.push_back(s);
    work.notify_one();
    return true;
  }
};

HttpSource::HttpSource(std::shared_ptr<const Remote> remote, RemoteObject obj)
    : remote_(std::move(remote)), obj_(std::move(obj)), st_(std::make_unique<State>()) {
  const unsigned n = std::clamp(remote_->options().connections, 1u, 64u);
  // Four blocks per connection: the one being read, the ones read ahead, and the recently used
  // ones that small records nearby come back to. 16 MiB at the default of 4 connections.
  st_->slots.resize(std::max<std::size_t>(8, 4 * n));
  st_->ahead = std::max(2u, n);
  for (unsigned i = 0; i < n; ++i) st_->threads.emplace_back([this] { fetcher(); });
}

HttpSource::~HttpSource() {
  {
    std::lock_guard lock(st_->mu);
    st_->stop = true;
  }
  st_->work.notify_all();
  for (auto& t : st_->threads) t.join();
}

void HttpSource::fetcher() {
  Connection c;
  std::unique_lock lock(st_->mu);
  for (;;) {
    st_->work.wait(lock, [&] { return st_->stop || !st_->queue.empty(); });
    if (st_->stop) return;
    const std::size_t i = st_->queue.front();
    st_->queue.pop_front();
    auto& s = st_->slots[i];
    s.is = State::Is::fetching;
    const std::uint64_t at = s.block * kBlock;
    lock.unlock();
    // The slot is this thread's until it is marked ready or failed.
    if (!s.data) s.data = std::make_unique<std::uint8_t[]>(kBlock);
    s.len = 0;
    State::Is outcome = State::Is::ready;
    std::exception_ptr error;
    try {
      const std::uint64_t last = std::min<std::uint64_t>(at + s.want, obj_.size) - 1;
      remote_->read(c, obj_, at, last, [&](std::span<const std::uint8_t> b) {
        const std::size_t n = std::min(b.size(), kBlock - s.len);
        std::memcpy(s.data.get() + s.len, b.data(), n);
        s.len += n;
      });
    } catch (...) {
      outcome = State::Is::failed;
      error = std::current_exception();
    }
    lock.lock();
    s.is = outcome;
    s.error = error;
    s.stamp = ++st_->clock;
    st_->done.notify_all();
  }
}

bool HttpSource::probe() {
  if (obj_.size == 0) return true;
  const std::uint64_t block = (obj_.size - 1) / kBlock;
  Connection c;
  std::vector<std::uint8_t> bytes;
  if (!remote_->read_ranged(c, obj_, block * kBlock, obj_.size - 1,
                            [&](std::span<const std::uint8_t> b) { bytes.insert(bytes.end(), b.begin(), b.end()); }))
    return false;
  std::lock_guard lock(st_->mu);
  auto& s = st_->slots[0];
  s.data = std::make_unique<std::uint8_t[]>(kBlock);
  std::memcpy(s.data.get(), bytes.data(), std::min(bytes.size(), kBlock));
  s.len = std::min(bytes.size(), kBlock);
  s.want = kBlock;
  s.block = block;
  s.is = State::Is::ready;
  s.stamp = ++st_->clock;
  st_->where[block] = 0;
  return true;
}

std::size_t HttpSource::read_some(std::uint64_t offset, std::span<std::uint8_t> buf) {
  if (offset >= obj_.size || buf.empty()) return 0;
  const std::uint64_t block = offset / kBlock;
  const std::size_t at = std::size_t(offset - block * kBlock);
  const std::size_t whole = std::size_t(std::min<std::uint64_t>(kBlock, obj_.size - block * kBlock));
  auto& st = *st_;
  std::unique_lock lock(st.mu);
  // A small read that does not follow on from the block before (a local header checked against
  // the directory, between entries that are not read) fetches only the block's head: restore
  // PATTERN and verify PATTERN then download the headers of the entries they skip, not 1 MiB
  // around each of them.
  const bool isolated = buf.size() <= kSmallRead && !(block > 0 && st.where.count(block - 1));
  std::size_t i;
  for (;;) {
    auto it = st.where.find(block);
    if (it == st.where.end()) {
      if (!st.request(block, true, isolated && at + buf.size() <= kHead ? kHead : kBlock)) st.done.wait(lock);
      continue;
    }
    auto& s = st.slots[it->second];
    if (s.is == State::Is::failed) std::rethrow_exception(s.error);
    if (s.is == State::Is::ready && at >= s.len && s.len < whole) {
      // Only the head is here and the read goes past it: the whole block, once no reader holds it.
      if (!s.pins) {
        s.is = State::Is::queued;
        s.want = kBlock;
        st.queue.push_front(it->second);
        st.work.notify_one();
      }
      st.done.wait(lock);
      continue;
    }
    if (s.is == State::Is::ready) {
      i = it->second;
      break;
    }
    st.done.wait(lock);
  }
  auto& s = st.slots[i];
  ++s.pins;
  s.used = true;
  s.stamp = ++st.clock;
  // Reads that follow on from the block before are read ahead.
  if (block > 0 && st.where.count(block - 1))
    for (unsigned k = 1; k <= st.ahead && (block + k) * kBlock < obj_.size; ++k)
      if (!st.request(block + k, false)) break;
  lock.unlock();
  const std::size_t n = at < s.len ? std::min(buf.size(), s.len - at) : 0;
  std::memcpy(buf.data(), s.data.get() + at, n);
  lock.lock();
  --s.pins;
  st.done.notify_all();
  return n;
}

RemoteStream::RemoteStream(std::shared_ptr<const Remote> remote, RemoteObject obj) : remote_(std::move(remote)) {
  // A socket pair rather than a pipe: a reader that stops early makes send() fail with EPIPE
  // (MSG_NOSIGNAL) instead of raising SIGPIPE.
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_) != 0)
    throw RemoteReadError(std::string("socketpair: ") + std::strerror(errno));
  int sz = 1 << 20;
  ::setsockopt(fds_[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  thread_ = std::thread([this, obj = std::move(obj)] {
    try {
      Connection c;
      remote_->read(c, obj, 0, std::nullopt, [&](std::span<const std::uint8_t> b) {
        std::size_t done = 0;
        while (done < b.size()) {
          if (stop_) throw RemoteReadError(remote_->shown() + ": reading stopped");
          ssize_t n = ::send(fds_[1], b.data() + done, b.size() - done, MSG_NOSIGNAL);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) throw RemoteReadError(remote_->shown() + ": reading stopped");
          done += std::size_t(n);
        }
      });
    } catch (...) {
      error_ = std::current_exception();
    }
    ::shutdown(fds_[1], SHUT_WR);
  });
}

RemoteStream::~RemoteStream() {
  stop_ = true;
  ::shutdown(fds_[0], SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(fds_[0]);
  ::close(fds_[1]);
}

void RemoteStream::finish() {
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
}

std::size_t RemoteStream::pull(std::uint8_t* p, std::size_t n) {
  for (;;) {
    ssize_t got = ::recv(fds_[0], p, n, 0);
    if (got > 0) return std::size_t(got);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw RemoteReadError(remote_->shown() + ": " + std::strerror(errno));
    finish();
    return 0;
  }
}

RemoteArchive open_remote(const std::string& arg, const RemoteOptions& opt) {
  RemoteArchive a;
  a.remote = std::make_shared<Remote>(arg, opt);
  {
    Connection c;
    a.object = a.remote->head(c);
  }
  // A range is tried even without Accept-Ranges: some object stores leave it out.
  if (a.object.size_known) {
    a.ranged = std::make_unique<HttpSource>(a.remote, a.object);
    if (a.ranged->probe()) return a;
    a.ranged.reset();
  }
  a.feed = std::make_unique<RemoteStream>(a.remote, a.object);
  auto* feed = a.feed.get();
  a.stream = std::make_unique<StreamSource>([feed](std::uint8_t* p, std::size_t n) { return feed->pull(p, n); },
                                            a.remote->shown());
  return a;
}

}  // namespace zm::io

namespace zm::io {

namespace {
void write_all(int fd, const std::uint8_t* p, std::size_t n, const std::string& what) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw RemoteReadError(what + ": cannot write the temporary copy: " + std::strerror(errno));
    p += w, n -= std::size_t(w);
  }
}
}  // namespace

void download(RemoteArchive& a, int fd) {
  const std::string& shown = a.remote->shown();
  if (a.feed) {
    std::vector<std::uint8_t> buf(1 << 20);
    while (std::size_t n = a.feed->pull(buf.data(), buf.size())) write_all(fd, buf.data(), n, shown);
    return;
  }
  a.ranged.reset();  // its connections are not needed for one front-to-back read
  Connection c;
  a.remote->read(c, a.object, 0, a.object.size ? std::optional(a.object.size - 1) : std::nullopt,
                 [&](std::span<const std::uint8_t> b) { write_all(fd, b.data(), b.size(), shown); });
}

}  // namespace zm::io
