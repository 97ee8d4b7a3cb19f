// S3 request signing against AWS's own worked example, and the URL redaction that keeps
// passwords and signatures out of reports.
#include <doctest/doctest.h>

#include "io/remote.h"
#include "io/s3_sign.h"

using namespace zm::io;

namespace {

// "Example: GET Object" in Amazon S3's API reference, "Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk (AWS Signature Version 4)",
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html : GET /test.txt
// from examplebucket with Range: bytes=0-9 at 20130524T000000Z in us-east-1.
S3Request aws_example() {
  S3Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"}, {"range", "bytes=0-9"}};
  return r;
}
const S3Credentials kExampleCred{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const std::time_t kExampleTime = 1369353600;  // Fri, 24 May 2013 00:00:00 GMT

}  // namespace

TEST_CASE("s3 signing: AWS's GET Object example gives its canonical request, string to sign and signature") {
  auto req = aws_example();
  req.headers.push_back({"x-amz-content-sha256", req.payload_hash});
  req.headers.push_back({"x-amz-date", "20130524T000000Z"});
  CHECK(s3_canonical_request(req) ==
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(s3_string_to_sign(req, "us-east-1", kExampleTime) ==
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  auto headers = s3_sign(aws_example(), kExampleCred, "us-east-1", kExampleTime);
  std::string auth;
  for (const auto& [k, v] : headers)
    if (k == "authorization") auth = v;
  CHECK(auth ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("s3 signing: a session token is sent and signed; no credentials send no Authorization") {
  auto cred = kExampleCred;
  cred.session_token = "TOKEN";
  auto headers = s3_sign(aws_example(), cred, "us-east-1", kExampleTime);
  bool token = false;
  std::string auth;
  for (const auto& [k, v] : headers) {
    token |= k == "x-amz-security-token" && v == "TOKEN";
    if (k == "authorization") auth = v;
  }
  CHECK(token);
  CHECK(auth.find("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token,") != std::string::npos);
  for (const auto& [k, v] : s3_sign(aws_example(), S3Credentials{}, "us-east-1", kExampleTime)) CHECK(k != "authorization");
}

TEST_CASE("s3 keys are percent-encoded as SigV4 wants them, '/' kept") {
  CHECK(s3_encode_path("backups/2024 01/a+b~c_d.zip") == "backups/2024%2001/a%2Bb~c_d.zip");
  CHECK(s3_encode_path("\xc3\xa9t\xc3\xa9") == "%C3%A9t%C3%A9");
}

TEST_CASE("redact_url hides passwords and signing parameters, nothing else") {
  CHECK(redact_url("https://alice:s3cret@host:8443/a/b.zip") == "https://alice:***@host:8443/a/b.zip");
  CHECK(redact_url("https://host/b.zip?X-Amz-Signature=abc&part=2&X-Amz-Credential=AK%2F")
        == "https://host/b.zip?X-Amz-Signature=***&part=2&X-Amz-Credential=***");
  CHECK(redact_url("http://host/p@th.zip") == "http://host/p@th.zip");
  CHECK(redact_url("s3://bucket/key.zip") == "s3://bucket/key.zip");
  CHECK(is_remote("s3://b/k"));
  CHECK(is_remote("https://h/x"));
  CHECK_FALSE(is_remote("backup.zip"));
  CHECK_FALSE(is_remote("-"));
}
