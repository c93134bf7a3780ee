// The files `tusk up` writes for an instance's router, and what the agent and
// the status command need to know about it. Paths come from
// postgres::Layout: <i>.router.spec.json (0644, no secrets), and in the
// router's own directory the secrets file (0600) and either a generated
// certificate or copies of the configured ones. Blocking file I/O; run from
// the CLI thread.
#pragma once

#include <map>
#include <string>

#include "agent/spec.h"
#include "common/status.h"
#include "config/model.h"
#include "postgres/layout.h"
#include "router/router_spec.h"

namespace tusk::cli {

/// The router spec for `instance` (which has a router): the config's
/// settings, the instance as primary (its client host and port), the
/// layout's secrets, status and pid files, the configured or generated
/// TLS files, and with `auth_query` on the auth_user/auth_database/auth_query
/// of config/router_auth.h. Pure.
router::RouterSpec RouterSpecFor(const config::Instance& instance, const postgres::Layout& layout);

/// What the agent needs to run and probe the router of `instance`; the
/// router runs as `account` (the server's) when the agent is root.
agent::RouterProcessSpec RouterProcessFor(const config::Instance& instance,
                                          const postgres::Layout& layout,
                                          const sys::RunAs& account);

/// Writes the router's files for `instance`: the certificate when tusk
/// generates it (or private copies of the configured cert_file/key_file;
/// kInvalidArgument when one cannot be read), the secrets file with `passwords` (role -> password),
/// and the spec. The router's directory (Layout::RouterDir) and everything in it belong to
/// `account` (chown only when root), so the router can run as it. When a setting the router cannot
/// reload changed (ports, listen, workers, TLS, metrics endpoint, a new certificate) it also leaves
/// the restart marker for the agent. Errors: kInternal from the file system or OpenSSL,
/// kInvalidArgument for a listen address unusable in a certificate.
Status WriteRouterFiles(const config::Instance& instance, const postgres::Layout& layout,
                        const std::map<std::string, std::string>& passwords,
                        const sys::RunAs& account);

/// Writes the router secrets file of `instance` ({"roles": {name: password}},
/// 0600, owned by `account`, atomically) when its content differs. Returns
/// whether it changed.
/// `passwords` is ResolvePasswords' map, so it holds the implicit roles too,
/// including the router auth role when auth_query is on.
Result<bool> WriteRouterSecrets(const config::Instance& instance, const postgres::Layout& layout,
                                const std::map<std::string, std::string>& passwords,
                                const sys::RunAs& account);

/// Removes the spec, secrets and restart marker of a router that is no longer
/// configured (the agent then stops it). Keeps its log and certificate.
void RemoveRouterFiles(const std::string& instance, const postgres::Layout& layout);

}  // namespace tusk::cli
