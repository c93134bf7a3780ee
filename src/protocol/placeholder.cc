// Placeholder until the codec lands; replaced by wire.cc etc.
