// Self-signed certificate generation and reuse (OpenSSL 3 EVP/X509 API).
#include "sys/certificate.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <memory>

#include "sys/account.h"

namespace tusk::sys {
namespace {

constexpr int kValidDays = 3650;
constexpr int kRenewDays = 30;  // an existing certificate closer than this to expiry is replaced

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Names = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

/// kInternal naming the step and OpenSSL's last error.
Status OpensslError(const std::string& what) {
  unsigned long code = ERR_get_error();
  char buf[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return Internal("certificate: " + what + ": " + buf);
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool IsDnsName(const std::string& s) {
  return !s.empty() && s.size() <= 253 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

/// localhost, 127.0.0.1, then `hostnames`, without repeats.
std::vector<std::string> AltNames(const std::vector<std::string>& hostnames) {
  std::vector<std::string> out = {"localhost", "127.0.0.1"};
  for (const std::string& h : hostnames) {
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  }
  return out;
}

/// True when the files at the paths hold a usable pair that covers `names`.
bool ExistingPairUsable(const std::string& cert_path, const std::string& key_path,
                        const std::vector<std::string>& names) {
  Bio cb(BIO_new_file(cert_path.c_str(), "r"));
  Bio kb(BIO_new_file(key_path.c_str(), "r"));
  Cert cert(cb ? PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr) : nullptr);
  Key key(kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr) : nullptr);
  bool ok = cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
  if (ok) {
    time_t renew_at = ::time(nullptr) + static_cast<time_t>(kRenewDays) * 86400;
    ok = X509_cmp_time(X509_get0_notAfter(cert.get()), &renew_at) > 0;
  }
  for (size_t i = 0; ok && i < names.size(); ++i) {
    const std::string& n = names[i];
    ok = IsIpLiteral(n) ? X509_check_ip_asc(cert.get(), n.c_str(), 0) == 1
                        : X509_check_host(cert.get(), n.c_str(), n.size(), 0, nullptr) == 1;
  }
  ERR_clear_error();
  return ok;
}

/// Adds one subjectAltName entry.
Status AddAltName(GENERAL_NAMES* names, const std::string& name) {
  GENERAL_NAME* gn = nullptr;
  if (IsIpLiteral(name)) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
    if (!ip) return OpensslError("IP address " + name);
    gn = GENERAL_NAME_new();
    if (gn) GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
    if (!gn) ASN1_OCTET_STRING_free(ip);
  } else {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    if (!dns || !ASN1_STRING_set(dns, name.data(), static_cast<int>(name.size()))) {
      ASN1_IA5STRING_free(dns);
      return OpensslError("host name " + name);
    }
    gn = GENERAL_NAME_new();
    if (gn) GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
    if (!gn) ASN1_IA5STRING_free(dns);
  }
  if (!gn || !sk_GENERAL_NAME_push(names, gn)) {
    GENERAL_NAME_free(gn);
    return OpensslError("subjectAltName");
  }
  return Status::Ok();
}

/// Adds an extension given in OpenSSL's config syntax (constant strings only).
Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return OpensslError(std::string("extension ") + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? Status::Ok() : OpensslError(std::string("extension ") + value);
}

/// A new certificate for `key`, self-signed.
Result<Cert> MakeCertificate(EVP_PKEY* key, const std::string& common_name,
                             const std::vector<std::string>& alt_names) {
  Cert cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3)) return OpensslError("X509_new");
  unsigned char serial[20];
  if (RAND_bytes(serial, sizeof serial) != 1) return OpensslError("serial number");
  serial[0] &= 0x7f;  // positive
  Bignum bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
    return OpensslError("serial number");
  }
  // An hour of slack for clients whose clock is slightly behind.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidDays, 0, nullptr)) {
    return OpensslError("validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  auto cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  auto org = reinterpret_cast<const unsigned char*>("tusk");
  if (!X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, org, -1, -1, 0) ||
      !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, cn, -1, -1, 0) ||
      !X509_set_issuer_name(cert.get(), subject) || !X509_set_pubkey(cert.get(), key)) {
    return OpensslError("subject");
  }
  Names names(sk_GENERAL_NAME_new_null());
  if (!names) return OpensslError("subjectAltName");
  for (const std::string& n : alt_names) TUSK_RETURN_IF_ERROR(AddAltName(names.get(), n));
  if (!X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT)) {
    return OpensslError("subjectAltName");
  }
  // Its own trust anchor: clients verify with sslrootcert=<this file>, as
  // PostgreSQL's documentation does for self-signed server certificates.
  TUSK_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  TUSK_RETURN_IF_ERROR(
      AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign"));
  TUSK_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  TUSK_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return OpensslError("signing");
  return cert;
}

/// PEM text written by `write` into a memory BIO.
template <typename Fn>
Result<std::string> Pem(const char* what, Fn write) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) return OpensslError(what);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

Status EnsureSelfSignedCertificate(const std::string& cert_path, const std::string& key_path,
                                   const std::vector<std::string>& hostnames) {
  for (const std::string& h : hostnames) {
    if (!IsIpLiteral(h) && !IsDnsName(h)) {
      return InvalidArgument("certificate: not a host name or IP address: \"" + h + "\"");
    }
  }
  std::vector<std::string> alt_names = AltNames(hostnames);
  if (ExistingPairUsable(cert_path, key_path, alt_names)) {
    struct stat st;
    if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      ::chmod(key_path.c_str(), 0600);  // a hand-copied key: keep it private
    }
    return Status::Ok();
  }
  std::string common_name = hostnames.empty() ? "localhost" : hostnames.front();
  if (common_name.size() > 64) common_name = "localhost";  // the X.520 upper bound
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpensslError("EC P-256 key");
  Result<Cert> cert = MakeCertificate(key.get(), common_name, alt_names);
  if (!cert.ok()) return cert.status();
  Result<std::string> key_pem = Pem("private key PEM", [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!key_pem.ok()) return key_pem.status();
  Result<std::string> cert_pem =
      Pem("certificate PEM", [&](BIO* b) { return PEM_write_bio_X509(b, cert->get()); });
  if (!cert_pem.ok()) return cert_pem.status();
  for (const std::string& path : {cert_path, key_path}) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (!dir.empty()) TUSK_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  }
  TUSK_RETURN_IF_ERROR(WriteFileAtomic(key_path, *key_pem, 0600));
  return WriteFileAtomic(cert_path, *cert_pem, 0644);
}

}  // namespace tusk::sys
