"""Shared code for the Vercel functions in api/, in layers: each imports only from those listed above it.

- `lib.jsontext`: the one strict JSON parser (request bodies, token segments) and a frozen JSON object.
- `lib.config`: settings from the three-tier environment (process, dotenv files, defaults); the
  table of settings and their parsers is `lib.settings_specs`.
- `lib.http`: the HTTP primitives (request, response, problems, CORS, cookies, conditional
  requests, the request log); its `endpoint` module is the exception, the adapter Vercel
  loads, which sits on top of everything.
- `lib.contract`: what the API promises (route table, input and output models, validation,
  VIN rules, the OpenAPI document and docs page).
- `lib.supabase`: talking to Supabase (client factory, token verification, the caller,
  upstream and database errors, rate limits, idempotency, cursors).
- `lib.resources`: what each route does (vehicles, maintenance, admin, account, me, health, VIN).
- `lib.pipeline`: one request through the contract's order of checks, without a socket
  (`lib.http.endpoint` adapts http.server to it).
"""
