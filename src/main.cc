// tusk: one binary; wiring only. See src/README.md for the map of components.
#include "cli/commands.h"

int main(int argc, char** argv) { return tusk::cli::Main(argc, argv); }
