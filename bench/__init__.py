"""Herald's benchmarks: measurements printed as JSON lines, never assertions."""
