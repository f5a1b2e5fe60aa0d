"""Shared code for the Vercel functions in api/."""
