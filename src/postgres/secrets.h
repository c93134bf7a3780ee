// Role passwords: resolving the declared secret of every role of an instance.
//
// Sources (config::PasswordSource): an environment variable, a file, or a
// strong random password generated once and kept in the instance's secrets
// file (JSON {"roles": {name: password}}, mode 0600, owned by the invoking
// user, outside every data directory). The declared secret always wins: the
// reconciler sets whatever this returns. Blocking file I/O; thread-compatible.
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "config/environment.h"
#include "config/model.h"

namespace tusk::postgres {

/// 32 random bytes (OpenSSL RAND_bytes) as 43 URL-safe base64 characters.
std::string GeneratePassword();

/// Returns role name -> password for the superuser and every present login
/// role with a password source. Generated passwords missing from
/// `secrets_file` are created and saved (0600). With `create` false nothing is
/// written and missing generated passwords are left out.
/// Errors: kInvalidArgument (unset env var, unreadable or empty password file),
/// kInternal (secrets file unreadable/unwritable or not valid JSON).
Result<std::map<std::string, std::string>> ResolvePasswords(const config::Instance& instance,
                                                            const std::string& secrets_file,
                                                            const config::Environment& env,
                                                            bool create = true);

}  // namespace tusk::postgres
