// Placeholder until the metrics library lands.
