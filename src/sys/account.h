// The OS account PostgreSQL runs under, and file ownership/permission helpers.
//
// PostgreSQL refuses to run as root. When tusk runs as root it runs the
// server as Debian's `postgres` account (or creates a `tusk` system account
// when there is none) and gives it the data directories; as a normal user it
// runs the server as that user. Functions are blocking; thread-compatible.
#pragma once

#include <string>

#include "common/status.h"
#include "sys/process.h"

namespace tusk::sys {

/// True when the effective uid is 0.
bool IsRoot();

/// Name of the invoking user (effective uid).
std::string CurrentUserName();

/// The account the server runs as: the current user when not root; as root,
/// `postgres` if it exists, else a `tusk` system account created with useradd.
/// Errors: kInternal when the account cannot be found or created.
Result<RunAs> ServerAccount();

/// mkdir -p `path` with `mode` for new directories; when `owner` is set
/// (root only), chown the directory itself to it.
Status MakeDirs(const std::string& path, unsigned mode, const RunAs* owner = nullptr);

/// chown -R `path` to `owner` (no-op when not root).
Status ChownRecursive(const std::string& path, const RunAs& owner);

/// Writes `content` to `path` atomically (temp file + rename) with `mode`,
/// owned by `owner` when given (root only).
Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode,
                       const RunAs* owner = nullptr);

/// Reads a whole file. Errors: kNotFound, kInternal with strerror.
Result<std::string> ReadFile(const std::string& path);

/// Checks that `account` can traverse every directory above `path`; returns
/// kFailedPrecondition naming the first directory it cannot enter.
Status CheckTraversable(const std::string& path, const RunAs& account);

}  // namespace tusk::sys
