"""Conformance of the local stack with the real Supabase clients (supabase-js, supabase-py)."""
