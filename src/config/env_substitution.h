// ${VAR} substitution for tusk.yaml scalars.
//
// Pure apart from Environment::GetEnv; thread-compatible.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "config/environment.h"

namespace tusk::config {

/// Expands, left to right:
///   ${VAR}          the value of VAR; an error when VAR is unset
///   ${VAR:-default} the value of VAR, or `default` when VAR is unset or empty
///                   (`default` is taken literally up to the first '}')
///   $$              a literal '$'
/// Any other '$' is kept as is. VAR must match [A-Za-z_][A-Za-z0-9_]*.
/// Substituted values are not expanded again.
/// Errors: kInvalidArgument with a short reason and no location (the caller
/// adds one), e.g. "environment variable DB_PORT is not set".
Result<std::string> SubstituteEnv(std::string_view text, const Environment& env);

}  // namespace tusk::config
