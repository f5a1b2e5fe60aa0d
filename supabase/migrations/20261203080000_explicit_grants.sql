-- Explicit, minimal grants for the Data API roles.
--
-- Hosted projects created since 30 May 2026 (and every project since 30 Oct
-- 2026) no longer grant anon/authenticated/service_role anything on new objects
-- in `public`; older projects granted everything (TRUNCATE, REFERENCES and
-- TRIGGER included). Start from nothing either way, then grant only what
-- PostgREST needs for this API; row level security still decides which rows.

revoke all on all tables in schema public from anon, authenticated, service_role;
revoke all on all sequences in schema public from anon, authenticated, service_role;
revoke all on all functions in schema public from anon, authenticated, service_role;

-- anon (the publishable key alone) reads nothing but the health check.
grant execute on function public.healthcheck() to anon, authenticated, service_role;

-- authenticated: the app's data, under RLS.
grant select, insert, update, delete on public.vehicles to authenticated;
grant select, insert, update, delete on public.maintenance_records to authenticated;
grant select on public.profiles to authenticated;
grant select on public.role_permissions to authenticated;
grant select on public.audit_log to authenticated;
-- Admins change roles with their own token (so the audit names them); only the
-- role column is writable, rows are created by the sign-up trigger.
grant select, update (role) on public.user_roles to authenticated;

grant execute on function public.list_vehicles(
  text, integer, public.vehicle_status, text, text, integer, integer, integer, uuid, text, text, uuid
) to authenticated;
grant execute on function public.list_maintenance(uuid, integer, date, timestamptz, uuid) to authenticated;
grant execute on function public.list_users(integer, timestamptz, uuid) to authenticated;
grant execute on function public.list_audit(integer, text, text, uuid, timestamptz, bigint) to authenticated;
grant execute on function public.create_vehicle(jsonb, text, text) to authenticated;
grant execute on function public.create_maintenance_record(uuid, jsonb, text, text) to authenticated;
grant execute on function public.idempotency_lookup(text, text) to authenticated;
grant execute on function public.idempotency_store(text, text, integer, text) to authenticated;

-- service_role (the secret key, server-side only): the rate limiter, and the
-- app's data and operations for operators (it bypasses RLS). The audit log
-- stays read-only.
grant execute on function public.rate_limit_take(text, integer, integer, integer, timestamptz) to service_role;
grant execute on function public.list_vehicles(
  text, integer, public.vehicle_status, text, text, integer, integer, integer, uuid, text, text, uuid
) to service_role;
grant execute on function public.list_maintenance(uuid, integer, date, timestamptz, uuid) to service_role;
grant execute on function public.list_users(integer, timestamptz, uuid) to service_role;
grant execute on function public.list_audit(integer, text, text, uuid, timestamptz, bigint) to service_role;
grant execute on function public.create_vehicle(jsonb, text, text) to service_role;
grant execute on function public.create_maintenance_record(uuid, jsonb, text, text) to service_role;
grant select, insert, update, delete on public.vehicles, public.maintenance_records to service_role;
grant select, insert, update, delete on public.user_roles to service_role;
grant select on public.profiles, public.role_permissions, public.audit_log to service_role;

-- Future objects get nothing unless a migration grants it, on old projects too.
alter default privileges for role postgres in schema public
  revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  revoke all on functions from anon, authenticated, service_role;
