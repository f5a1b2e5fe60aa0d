"""The HTTP method names the API treats alike, declared once (RFC 9110 section 9)."""

from __future__ import annotations

# Methods that change state: a cookie-authenticated one must carry the CSRF token, and the
# document lists X-CSRF-Token on them.
UNSAFE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# Methods whose request body is read and parsed as JSON (DELETE's body is never read).
BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})
# Methods a static file answers (Vercel's and `make dev`'s file system), HEAD wherever GET.
READ_METHODS = frozenset({"GET", "HEAD"})
