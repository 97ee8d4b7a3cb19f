// Archives that live on a web server or in S3-compatible storage, read through libcurl: HEAD for
// the size and validators (ETag, Last-Modified), ranged GETs over several connections into a
// bounded block cache (HttpSource), or one stream when the server ignores Range. A dropped
// connection is resumed from the last byte received with If-Range, so that an object that
// changed in between is reported (ObjectChanged), never mixed with what was read before.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "io/source.h"

namespace zm::io {

struct RemoteOptions {
  unsigned connections = 4;     // ranged GETs in flight at once
  std::string cacert;           // a CA certificate file trusted besides the system's
  std::string s3_endpoint;      // --s3-endpoint; else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
  bool s3_path_style = false;   // https://endpoint/bucket/key rather than https://bucket.endpoint/key
  unsigned timeout = 30;        // seconds a connection may go without a byte before it is resumed
  unsigned retries = 6;         // attempts in a row without a byte received before giving up
};

// http://, https:// or s3://.
bool is_remote(std::string_view arg);
// The URL as it may be printed: a password in it, and query parameters that carry a signature,
// credential or token, replaced by "***".
std::string redact_url(std::string_view url);

// A read from the server failed for good (retries spent, a broken answer).
struct RemoteReadError : Failure {
  explicit RemoteReadError(const std::string& what) : Failure(Fail::cannot_read, what) {}
};
// The object is no longer the one whose first bytes were read (another ETag, Last-Modified or
// size): what was read cannot be joined with what would follow. Exit status 3.
struct ObjectChanged : RemoteReadError {
  using RemoteReadError::RemoteReadError;
};
// HEAD or the first GET failed for a reason that retrying does not change (404, 403, a bad
// certificate, no such host): the archive cannot be opened.
struct RemoteOpenError : Failure {
  explicit RemoteOpenError(const std::string& what) : Failure(Fail::cannot_open, what) {}
};

// What HEAD said of the object.
struct RemoteObject {
  std::uint64_t size = 0;
  bool size_known = false;
  std::string etag, last_modified;
  // The validator If-Range is sent with: the ETag, else Last-Modified; empty when neither came.
  const std::string& validator() const { return etag.empty() ? last_modified : etag; }
};

class Remote;
class Connection;

// One URL (or s3://bucket/key) with its options, credentials and signing. Thread-safe: each
// thread makes requests through its own Connection.
class Remote {
 public:
  Remote(const std::string& arg, const RemoteOptions& opt);
  ~Remote();
  const std::string& shown() const { return shown_; }
  const RemoteOptions& options() const { return opt_; }
  RemoteObject head(Connection& c) const;
  // The bytes from `from` up to and including `to` (to the end when nullopt), handed to `sink` in
  // order. A server that ignores Range (200) is read from its start and the bytes before `from`
  // are dropped. Throws ObjectChanged, RemoteOpenError or RemoteReadError (retries spent).
  using Sink = std::function<void(std::span<const std::uint8_t>)>;
  void read(Connection& c, const RemoteObject& obj, std::uint64_t from, std::optional<std::uint64_t> to,
            const Sink& sink) const;
  // As read(), but answers false, having read nothing, when the server ignores Range.
  bool read_ranged(Connection& c, const RemoteObject& obj, std::uint64_t from, std::uint64_t to,
                   const Sink& sink) const;

  struct Target;  // the URL to request and how to sign it (remote.cc)

 private:
  bool read_loop(Connection& c, const RemoteObject& obj, std::uint64_t from, std::optional<std::uint64_t> to,
                 const Sink& sink, bool need_range) const;
  RemoteOptions opt_;
  std::string shown_;
  std::unique_ptr<Target> target_;
};

// One libcurl handle: one connection kept alive between requests. Not shared between threads.
class Connection {
 public:
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  void* handle() const { return h_; }

 private:
  void* h_;
};

// A remote object read with ranged GETs: blocks of 1 MiB fetched by `connections` threads into a
// cache of a bounded number of blocks, with read-ahead for reads that follow on from each
// other. Thread-safe, as FileSource's pread is: the verifier's workers read in parallel.
class HttpSource final : public ByteSource {
 public:
  static constexpr std::size_t kBlock = 1u << 20;
  // A small read away from what was read before fetches this much of its block first.
  static constexpr std::size_t kHead = 64u << 10;
  static constexpr std::size_t kSmallRead = 4u << 10;
  HttpSource(std::shared_ptr<const Remote> remote, RemoteObject obj);
  ~HttpSource() override;
  // Fetches the last block (where the end records are): false when the server ignores Range.
  bool probe();
  std::uint64_t size() const override { return obj_.size; }
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> buf) override;

 private:
  struct State;
  void fetcher();
  std::shared_ptr<const Remote> remote_;
  RemoteObject obj_;
  std::unique_ptr<State> st_;
};

// A remote object read as one stream from a helper thread: pull() hands its bytes on in order
// (for StreamSource), returns 0 at the end and throws what the download threw.
class RemoteStream {
 public:
  RemoteStream(std::shared_ptr<const Remote> remote, RemoteObject obj);
  ~RemoteStream();
  std::size_t pull(std::uint8_t* p, std::size_t n);
  int fd() const { return fds_[0]; }  // the reading end, for spool_stream
  void finish();                      // after reading fd() to its end: throws what the download threw

 private:
  std::shared_ptr<const Remote> remote_;
  int fds_[2] = {-1, -1};
  std::thread thread_;
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
};

// An opened remote archive: ranged when the server answers ranges, else a stream.
struct RemoteArchive {
  std::shared_ptr<const Remote> remote;
  RemoteObject object;
  std::unique_ptr<HttpSource> ranged;
  std::unique_ptr<RemoteStream> feed;
  std::unique_ptr<StreamSource> stream;
  ByteSource& source() { return ranged ? static_cast<ByteSource&>(*ranged) : *stream; }
};
// Throws RemoteOpenError (cannot open), RemoteReadError.
RemoteArchive open_remote(const std::string& arg, const RemoteOptions& opt);
// The whole object written to `fd` (a temporary file): repair and restore read a copy.
void download(RemoteArchive& a, int fd);

}  // namespace zm::io
