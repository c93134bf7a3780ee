// The tusk command line: parses arguments (CLI11) and dispatches to one
// function per command. Exceptions stop here: every command returns an exit
// status (0 ok, 1 failure, 2 bad config or arguments).
#pragma once

namespace tusk::cli {

/// Entry point for the `tusk` binary. Returns the process exit status.
int Main(int argc, char** argv);

}  // namespace tusk::cli
