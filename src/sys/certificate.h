// Self-signed TLS certificates for services tusk runs (the router), made with
// the OpenSSL 3 API: no openssl binary, no config file. Blocking file I/O;
// safe to call from one thread at a time per path pair.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace tusk::sys {

/// Makes sure `cert_path` (PEM, mode 0644) and `key_path` (PEM, mode 0600)
/// hold a matching certificate and private key. An existing pair is kept when
/// both parse, match, stay valid for at least 30 more days and cover every
/// name below; otherwise a new one is written (key first, each atomically,
/// parent directories created 0700): an EC P-256 key and an X.509 v3
/// certificate signed by it, CN = the first of `hostnames` ("localhost" when
/// empty), subjectAltName DNS:localhost, IP:127.0.0.1 and each of
/// `hostnames` (IPv4/IPv6 literals as IP entries, others as DNS entries),
/// valid for 10 years. Errors: kInvalidArgument for an unusable host name,
/// kInternal when OpenSSL or the file system fails.
Status EnsureSelfSignedCertificate(const std::string& cert_path, const std::string& key_path,
                                   const std::vector<std::string>& hostnames);

}  // namespace tusk::sys
