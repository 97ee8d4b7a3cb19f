#include "io/s3_sign.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>

namespace zm::io {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += d[p[i] >> 4], s += d[p[i] & 15];
  return s;
}

std::string sha256_hex(const std::string& s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return hex(md, sizeof md);
}

std::string hmac(const std::string& key, const std::string& msg) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md,
       &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string stamp(std::time_t when, const char* fmt) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// The headers signed: the request's and the x-amz ones added here, sorted by name.
std::map<std::string, std::string> signed_headers(const S3Request& req) {
  std::map<std::string, std::string> h;
  for (const auto& [k, v] : req.headers) h[k] = trim(v);
  return h;
}

std::string scope(const std::string& region, std::time_t when) {
  return stamp(when, "%Y%m%d") + "/" + region + "/s3/aws4_request";
}

// One INI file of the AWS tools: [section] then key = value lines.
std::map<std::string, std::string> ini_section(const std::string& path, const std::string& section) {
  std::map<std::string, std::string> out;
  std::ifstream f(path);
  std::string line, current;
  while (std::getline(f, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      current = trim(line.substr(1, line.size() - 2));
      continue;
    }
    auto eq = line.find('=');
    if (current == section && eq != std::string::npos) out[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string aws_file(const char* var, const char* name) {
  if (auto p = env(var); !p.empty()) return p;
  auto home = env("HOME");
  return home.empty() ? "" : home + "/.aws/" + name;
}

std::string profile() {
  auto p = env("AWS_PROFILE");
  return p.empty() ? "default" : p;
}

}  // namespace

std::string s3_encode_path(const std::string& key) {
  static const char* d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/')
      out += char(c);
    else
      out += '%', out += d[c >> 4], out += d[c & 15];
  }
  return out;
}

std::string s3_canonical_request(const S3Request& req) {
  auto h = signed_headers(req);
  std::string names, lines;
  for (const auto& [k, v] : h) {
    lines += k + ":" + v + "\n";
    names += (names.empty() ? "" : ";") + k;
  }
  // No query string: objects are named by their path alone.
  return req.method + "\n" + req.path + "\n\n" + lines + "\n" + names + "\n" + req.payload_hash;
}

std::string s3_string_to_sign(const S3Request& req, const std::string& region, std::time_t when) {
  return "AWS4-HMAC-SHA256\n" + stamp(when, "%Y%m%dT%H%M%SZ") + "\n" + scope(region, when) + "\n" +
         sha256_hex(s3_canonical_request(req));
}

std::vector<std::pair<std::string, std::string>> s3_sign(const S3Request& given, const S3Credentials& cred,
                                                          const std::string& region, std::time_t when) {
  S3Request req = given;
  std::vector<std::pair<std::string, std::string>> add = {{"x-amz-content-sha256", req.payload_hash},
                                                          {"x-amz-date", stamp(when, "%Y%m%dT%H%M%SZ")}};
  if (!cred.session_token.empty()) add.push_back({"x-amz-security-token", cred.session_token});
  req.headers.insert(req.headers.end(), add.begin(), add.end());
  if (cred.empty()) return add;  // a public object: sent unsigned
  std::string key = hmac("AWS4" + cred.secret_key, stamp(when, "%Y%m%d"));
  key = hmac(hmac(hmac(key, region), "s3"), "aws4_request");
  const std::string mac = hmac(key, s3_string_to_sign(req, region, when));
  std::string names;
  for (const auto& [k, v] : signed_headers(req)) names += (names.empty() ? "" : ";") + k;
  add.push_back({"authorization", "AWS4-HMAC-SHA256 Credential=" + cred.access_key + "/" + scope(region, when) +
                                      ",SignedHeaders=" + names + ",Signature=" +
                                      hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size())});
  return add;
}

S3Credentials s3_find_credentials() {
  S3Credentials c{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
  if (!c.access_key.empty() && !c.secret_key.empty()) return c;
  auto s = ini_section(aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile());
  return {s["aws_access_key_id"], s["aws_secret_access_key"], s["aws_session_token"]};
}

std::string s3_find_region() {
  for (const char* v : {"AWS_REGION", "AWS_DEFAULT_REGION"})
    if (auto r = env(v); !r.empty()) return r;
  // The config file names a profile's section "profile NAME", except the default one.
  const std::string p = profile();
  auto s = ini_section(aws_file("AWS_CONFIG_FILE", "config"), p == "default" ? p : "profile " + p);
  return s.count("region") && !s["region"].empty() ? s["region"] : "us-east-1";
}

}  // namespace zm::io
