-- Authorisation follows the current role and the current session, not a
-- token's claims. The publishable key is public, so this must hold for a
-- caller of /rest/v1 with their own token, not only behind the API:
--   * permissions are read from public.user_roles on every statement, so a
--     demoted admin's unexpired token can no longer do admin things;
--   * every PostgREST request of a signed-in user checks (db-pre-request) that
--     the token's session still exists in auth.sessions, so logout, a role
--     change (which ends the user's sessions) and deleting the user stop the
--     token on the next request instead of up to an hour later.
-- The user_role claim stays in the token for the frontend's display only.

create or replace function private.authorize(requested public.app_permission)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from public.user_roles ur
    join public.role_permissions rp on rp.role = ur.role
    where ur.user_id = auth.uid()
      and rp.permission = requested
  )
$$;

create or replace function private.is_admin()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (select 1 from public.user_roles where user_id = auth.uid() and role = 'admin')
$$;

-- Who is running this: the role in effect (current_user), not the login role.
-- `supabase db push` logs in as a temporary role and sets the role to
-- postgres, so session_user is not postgres there. Security invoker, so that
-- current_user is the caller's role rather than this function's owner.
create or replace function private.is_privileged()
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(auth.jwt() ->> 'role', '') = 'service_role'
      or current_user in ('postgres', 'supabase_admin')
         and coalesce(auth.jwt() ->> 'role', '') = ''
$$;

-- PostgREST's db-pre-request: runs in every request's transaction, after the
-- role switch, before the query. A signed-in caller whose session has ended
-- gets 401, as an expired token would. One primary-key lookup, no extra
-- round trip. It lives in a schema of its own, never exposed, because every
-- request role (anon included) needs usage on the schema to call it.
create schema if not exists request_hooks;
comment on schema request_hooks is
  'Functions PostgREST runs around every request (db-pre-request). Not an exposed schema.';
revoke all on schema request_hooks from public;
grant usage on schema request_hooks to anon, authenticated, service_role;

create or replace function request_hooks.check_request()
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  claims jsonb := coalesce(auth.jwt(), '{}'::jsonb);
  session text := claims ->> 'session_id';
begin
  if coalesce(claims ->> 'role', '') <> 'authenticated' then
    return;
  end if;
  if session is null
     or session !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
     or not exists (
       select 1 from auth.sessions s
       where s.id = session::uuid
         and s.user_id = auth.uid()
         and (s.not_after is null or s.not_after > now())
     )
  then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'VS401', 'message', 'The session has ended', 'details', null, 'hint', null
      )::text,
      detail = json_build_object(
        'status', 401,
        'headers', json_build_object('WWW-Authenticate', 'Bearer error="invalid_token"')
      )::text;
  end if;
end;
$$;
revoke execute on function request_hooks.check_request() from public;
grant execute on function request_hooks.check_request() to anon, authenticated, service_role;

-- /api/me: who the caller is now (a live session's current role), in one call.
create or replace function public.me()
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select jsonb_build_object(
    'id', auth.uid(),
    'email', (select p.email from public.profiles p where p.id = auth.uid()),
    'role', coalesce((select ur.role from public.user_roles ur where ur.user_id = auth.uid()), 'member')
  )
$$;
revoke execute on function public.me() from public, anon;
grant execute on function public.me() to authenticated;

-- Hosted Supabase reads PostgREST settings of the authenticator role from the
-- database (the same statement works in the SQL editor).
alter role authenticator set pgrst.db_pre_request to 'request_hooks.check_request';
notify pgrst, 'reload config';
