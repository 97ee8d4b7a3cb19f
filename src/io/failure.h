#pragma once
#include <stdexcept>
#include <string>

namespace zm::io {

// Why a command could not go on. Every module throws this one type; cli/ maps the kind to the
// exit status (usage 2, every other kind 3) and to the report's code, in one place (`guarded`).
enum class Fail : unsigned char {
  usage,         // a command line zipmedic will not run (exit 2, nothing read or written)
  cannot_open,   // the archive, a volume or DIR cannot be opened or examined
  cannot_read,   // a read failed or came back short, or the file changed while being read
  cannot_write,  // a write, flush, fsync, close or rename of an output failed
  password,      // the password is wrong for the archive
  key,           // a .zip.crypt without its key, a malformed key or header
  resource,      // memory, free space, a library that could not start
  empty,         // the file or stream holds 0 bytes
  not_a_zip,     // neither an end record nor a local file header anywhere
};

struct Failure : std::runtime_error {
  Failure(Fail k, const std::string& what) : std::runtime_error(what), kind(k) {}
  Fail kind;
};

}  // namespace zm::io
