// EnsureSelfSignedCertificate: files and modes, the certificate checked with
// OpenSSL itself (key match, chain verification as its own trust anchor, host
// and IP names, validity, key type), reuse of a good pair and replacement of
// a bad one.
#include "sys/certificate.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tusk::sys {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

X509* ReadCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return nullptr;
  X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return c;
}

EVP_PKEY* ReadKey(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return nullptr;
  EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return k;
}

/// X509_verify_cert with the certificate as its own trust anchor, for TLS
/// servers, checking `host` (DNS) or `ip`. Returns the verify error code.
int Verify(X509* cert, const char* host, const char* ip) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, cert);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  if (host) X509_VERIFY_PARAM_set1_host(param, host, 0);
  if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, ip);
  int ok = X509_verify_cert(ctx);
  int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

class CertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/certificate-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    cert_ = dir_ + "/tls/main/router.crt";
    key_ = dir_ + "/tls/main/router.key";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, cert_, key_;
};

TEST_F(CertificateTest, GeneratesAVerifiablePair) {
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert_, key_, {"db.example", "10.0.0.5", "::1"}).ok());
  EXPECT_EQ(Mode(key_), 0600u);
  EXPECT_EQ(Mode(cert_), 0644u);
  EXPECT_EQ(Mode(dir_ + "/tls/main"), 0700u);
  EXPECT_NE(Slurp(key_).find("-----BEGIN PRIVATE KEY-----"), std::string::npos);

  X509* cert = ReadCert(cert_);
  EVP_PKEY* key = ReadKey(key_);
  ASSERT_NE(cert, nullptr);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert, key), 1);
  EXPECT_EQ(X509_verify(cert, key), 1);  // self-signed by this key
  EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);

  // EC P-256.
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  char group[64] = "";
  size_t len = 0;
  EXPECT_EQ(EVP_PKEY_get_group_name(key, group, sizeof group, &len), 1);
  EXPECT_STREQ(group, "prime256v1");

  // CN = the first host name.
  char cn[128] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "db.example");

  // SANs: localhost and 127.0.0.1 always, plus each host name.
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "db.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "10.0.0.5", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "other.example", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_ip_asc(cert, "10.0.0.6", 0), 1);

  // Verifies as a TLS server certificate with itself as the trust anchor.
  EXPECT_EQ(Verify(cert, "localhost", nullptr), X509_V_OK);
  EXPECT_EQ(Verify(cert, nullptr, "10.0.0.5"), X509_V_OK);
  EXPECT_EQ(Verify(cert, "other.example", nullptr), X509_V_ERR_HOSTNAME_MISMATCH);

  // Valid now, for about ten years.
  time_t now = ::time(nullptr);
  time_t in_9y = now + 9 * 365 * 86400L;
  time_t in_11y = now + 11 * 365 * 86400L;
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(cert), &now), 0);
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(cert), &in_9y), 0);
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(cert), &in_11y), 0);
  X509_free(cert);
  EVP_PKEY_free(key);
}

TEST_F(CertificateTest, KeepsAGoodPair) {
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert_, key_, {"localhost", "10.0.0.5"}).ok());
  std::string cert = Slurp(cert_), key = Slurp(key_);
  ::chmod(key_.c_str(), 0644);
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert_, key_, {"localhost", "10.0.0.5"}).ok());
  EXPECT_EQ(Slurp(cert_), cert);
  EXPECT_EQ(Slurp(key_), key);
  EXPECT_EQ(Mode(key_), 0600u);  // tightened again
  // A subset of the names is still covered.
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert_, key_, {"localhost"}).ok());
  EXPECT_EQ(Slurp(cert_), cert);
}

TEST_F(CertificateTest, ReplacesAPairThatNoLongerFits) {
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert_, key_, {"localhost"}).ok());
  std::string first = Slurp(cert_);
  // A new listen address is not covered: new certificate.
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert_, key_, {"localhost", "10.0.0.7"}).ok());
  std::string second = Slurp(cert_);
  EXPECT_NE(second, first);
  X509* cert = ReadCert(cert_);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ip_asc(cert, "10.0.0.7", 0), 1);
  X509_free(cert);
  // A damaged or mismatched key: new pair.
  std::ofstream(key_) << "garbage\n";
  ASSERT_TRUE(EnsureSelfSignedCertificate(cert_, key_, {"localhost"}).ok());
  EVP_PKEY* key = ReadKey(key_);
  cert = ReadCert(cert_);
  ASSERT_NE(key, nullptr);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_private_key(cert, key), 1);
  EXPECT_NE(Slurp(cert_), second);
  X509_free(cert);
  EVP_PKEY_free(key);
}

TEST_F(CertificateTest, RejectsBadHostNames) {
  Status st = EnsureSelfSignedCertificate(cert_, key_, {"bad name"});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("bad name"), std::string::npos);
  EXPECT_EQ(EnsureSelfSignedCertificate(cert_, key_, {""}).code(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(cert_));
}

TEST_F(CertificateTest, UnwritableDirectoryIsAnError) {
  std::string blocker = dir_ + "/file";
  std::ofstream(blocker) << "x";
  Status st = EnsureSelfSignedCertificate(blocker + "/r.crt", blocker + "/r.key", {});
  EXPECT_EQ(st.code(), Code::kInternal) << st.message();
}

}  // namespace
}  // namespace tusk::sys
