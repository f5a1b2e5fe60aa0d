-- A cheap probe for GET /api/health: proves PostgREST reaches Postgres.
create or replace function public.healthcheck()
returns boolean
language sql
stable
set search_path = ''
as $$
  select true
$$;

revoke execute on function public.healthcheck() from public;
grant execute on function public.healthcheck() to anon, authenticated, service_role;
