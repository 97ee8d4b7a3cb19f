// Signature Version 4 for S3 requests (AWS's "Authenticating Requests: Using the Authorization
// Header"), made here with OpenSSL's HMAC so that it can be checked offline against AWS's worked
// example: libcurl 7.88.1's CURLOPT_AWS_SIGV4 takes the time from the clock and sends no
// x-amz-content-sha256 or x-amz-security-token of its own.
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zm::io {

struct S3Credentials {
  std::string access_key, secret_key, session_token;  // never printed
  bool empty() const { return access_key.empty(); }
};

// One request to sign: header names in lower case; `host` is among them.
struct S3Request {
  std::string method = "GET";
  std::string path;  // percent-encoded as sent (s3_encode_path)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";  // empty body
};

// The headers to send with the request: x-amz-date, x-amz-content-sha256, the session token
// when there is one, and Authorization. `when` is the signing time (UTC).
std::vector<std::pair<std::string, std::string>> s3_sign(const S3Request& req, const S3Credentials& cred,
                                                          const std::string& region, std::time_t when);
// The pieces, for tests: the canonical request and the string to sign.
std::string s3_canonical_request(const S3Request& req);
std::string s3_string_to_sign(const S3Request& req, const std::string& region, std::time_t when);

// A key as a URI path: every byte but the unreserved ones and '/' percent-encoded (RFC 3986), as
// SigV4 wants it in the canonical request and as it is sent.
std::string s3_encode_path(const std::string& key);

// Credentials and region as the AWS command-line tools find them: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; else the profile (AWS_PROFILE, else "default") of
// the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials). Region:
// AWS_REGION, AWS_DEFAULT_REGION, the profile's in the config file (AWS_CONFIG_FILE, else
// ~/.aws/config), else us-east-1.
S3Credentials s3_find_credentials();
std::string s3_find_region();

}  // namespace zm::io
