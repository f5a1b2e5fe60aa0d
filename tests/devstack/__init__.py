"""Tests for the local development tooling."""
