// Scalar parsing and name rules used by the tusk.yaml loader.
//
// Pure functions on strings, no I/O; thread-safe. Exposed so that tests and
// other components (e.g. the CLI) can apply exactly the rules the loader uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tusk::config {

/// Parses a whole decimal integer ("42", "-1"; surrounding ASCII spaces allowed).
/// Returns nullopt for anything else (empty, trailing junk, "+1", "0x10", overflow).
std::optional<int64_t> ParseInteger(std::string_view s);

/// Parses a YAML-style boolean, case-insensitively: true/false, yes/no, on/off.
/// Returns nullopt for anything else.
std::optional<bool> ParseBoolean(std::string_view s);

/// Parses a duration into milliseconds: an integer (milliseconds) or an integer
/// followed by a unit ms, s, min (or m), h or d ("500ms", "5s", "10m"; a space
/// before the unit is allowed; units are case-insensitive). Returns nullopt for negatives,
/// fractions, unknown units, or values above INT32_MAX milliseconds.
std::optional<int64_t> ParseDurationMs(std::string_view s);

/// Instance names: [a-z][a-z0-9_-]*, at most 40 bytes.
bool IsValidInstanceName(std::string_view s);

/// Database, role and schema names: [A-Za-z_][A-Za-z0-9_$-]*, at most 63 bytes,
/// not starting with "pg_" (any case: reserved by PostgreSQL).
bool IsValidObjectName(std::string_view s);

/// Extension names: [A-Za-z0-9_][A-Za-z0-9_-]*, at most 63 bytes (e.g. "uuid-ossp").
bool IsValidExtensionName(std::string_view s);

/// GUC (server parameter) names: [a-z_][a-z0-9_.]*, at most 63 bytes.
bool IsValidGucName(std::string_view s);

/// Environment variable names: [A-Za-z_][A-Za-z0-9_]*.
bool IsValidEnvName(std::string_view s);

/// True when `s` contains an ASCII control character (newline, tab, NUL, ...).
bool HasControlChars(std::string_view s);

/// True when `a` and `b` (absolute, normalized paths) are equal or one lies inside the other.
bool PathsOverlap(std::string_view a, std::string_view b);

/// Resolves `path` against the absolute directory `base` (unless already
/// absolute) and normalizes it lexically: no "." or ".." components, no
/// trailing slash. Does not touch the file system.
std::string ResolvePath(const std::string& base, const std::string& path);

}  // namespace tusk::config
