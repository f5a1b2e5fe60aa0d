"""Local-only development tooling; never deployed."""
