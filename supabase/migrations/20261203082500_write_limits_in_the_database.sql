-- Write limits bind direct /rest/v1 writes too (contract sections 2 and 6).
-- The publishable key is public: anyone who signs up can write through
-- PostgREST with their own token, skipping the API's limiter. So the per-user
-- write counter is taken in the database, by PostgREST's db-pre-request, in the
-- transaction of the write itself: the same counter (key and windows) the API's
-- limiter uses, and for the API's own writes no extra round trip.
--
-- A write's unit is taken inside its transaction, so a write that fails in the
-- database (a constraint, a trigger) is rolled back with its unit. Such a
-- request costs its caller about what a read does; the API counts its own
-- failed writes itself (lib/http/endpoint.py).

-- The limit that binds ----------------------------------------------------------
-- One row per policy; operators change the row to change the limit (and set the
-- API's RATE_LIMIT_WRITE to the same value, see README "Rate limits").
create table private.rate_limit_policies (
  policy text primary key,
  max_requests integer not null,
  window_seconds integer not null,
  constraint rate_limit_policies_known check (policy in ('write')),
  constraint rate_limit_policies_max_requests check (max_requests between 1 and 1000000),
  constraint rate_limit_policies_window check (window_seconds between 1 and 86400)
);
comment on table private.rate_limit_policies is
  'Limits enforced in the database (db-pre-request). Keep RATE_LIMIT_WRITE of the API equal to the write row.';
alter table private.rate_limit_policies enable row level security;
revoke all on private.rate_limit_policies from public, anon, authenticated, service_role;
insert into private.rate_limit_policies (policy, max_requests, window_seconds) values ('write', 60, 60);

-- The counter, shared -------------------------------------------------------------
-- The body of public.rate_limit_take, moved here so that the API's limiter (the
-- service role, through rate_limit_take) and the pre-request (as this schema's
-- owner) count with the same arithmetic. Security invoker: callers need the
-- table's privileges, which only the service role and the owner hold.
create or replace function private.rate_limit_count(
  p_key text,
  p_limit integer,
  p_window_seconds integer,
  p_cost integer default 1,
  p_now timestamptz default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  now_at timestamptz := coalesce(p_now, clock_timestamp());
  current_start timestamptz;
  current_end timestamptz;
  found_row private.rate_limits;
  used integer;
  granted integer;
begin
  if p_limit < 1 or p_window_seconds < 1 or p_cost < 1 or char_length(p_key) not between 1 and 200 then
    raise exception 'invalid rate limit arguments' using errcode = '22023';
  end if;
  current_start := to_timestamp(floor(extract(epoch from now_at) / p_window_seconds) * p_window_seconds);
  current_end := current_start + make_interval(secs => p_window_seconds);

  select * into found_row from private.rate_limits where key = p_key for update;
  if not found then
    insert into private.rate_limits (key, window_start, window_end, count)
    values (p_key, current_start, current_end, 0)
    on conflict (key) do nothing;
    select * into found_row from private.rate_limits where key = p_key for update;
  end if;

  used := case when found_row.window_start = current_start and found_row.window_end = current_end
               then found_row.count else 0 end;
  granted := greatest(0, least(p_cost, p_limit - used));
  update private.rate_limits
     set window_start = current_start, window_end = current_end, count = used + granted
   where key = p_key;

  -- Expired windows are swept a few at a time, about once per hundred calls.
  if random() < 0.01 then
    delete from private.rate_limits
    where ctid = any (array(
      select ctid from private.rate_limits
      where window_end < now_at
      limit 200
    ));
  end if;

  return jsonb_build_object(
    'granted', granted,
    'remaining', p_limit - used - granted,
    'reset', greatest(1, ceil(extract(epoch from (current_end - now_at))))::integer
  );
end;
$$;
revoke execute on function private.rate_limit_count(text, integer, integer, integer, timestamptz)
  from public, anon, authenticated;
grant execute on function private.rate_limit_count(text, integer, integer, integer, timestamptz) to service_role;

create or replace function public.rate_limit_take(
  p_key text,
  p_limit integer,
  p_window_seconds integer,
  p_cost integer default 1,
  p_now timestamptz default null
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
  select private.rate_limit_count(p_key, p_limit, p_window_seconds, p_cost, p_now)
$$;
revoke execute on function public.rate_limit_take(text, integer, integer, integer, timestamptz)
  from public, anon, authenticated;
grant execute on function public.rate_limit_take(text, integer, integer, integer, timestamptz) to service_role;

-- One write of a signed-in user ----------------------------------------------------
-- The key is the API's (lib/supabase/ratelimit.py: "write:user:" + the first 32 hex digits
-- of sha256 of the token's `sub`), so the API and direct writes share one budget.
-- Refused: PostgREST answers 429 with Retry-After and the RateLimit headers.
-- Granted: the RateLimit headers go on the response (response.headers).
create or replace function private.take_write_unit(p_subject text)
returns void
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  limits private.rate_limit_policies;
  taken jsonb;
  policy_header text;
begin
  select * into limits from private.rate_limit_policies p where p.policy = 'write';
  if not found then
    return;
  end if;
  taken := private.rate_limit_count(
    'write:user:' || left(encode(sha256(convert_to(p_subject, 'UTF8')), 'hex'), 32),
    limits.max_requests,
    limits.window_seconds
  );
  policy_header := format('"write";q=%s;w=%s', limits.max_requests, limits.window_seconds);
  if (taken ->> 'granted')::integer = 0 then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'VR429', 'message', 'Too many writes', 'details', null, 'hint', null
      )::text,
      detail = json_build_object(
        'status', 429,
        'headers', json_build_object(
          'Retry-After', least((taken ->> 'reset')::integer, limits.window_seconds)::text,
          'RateLimit-Policy', policy_header,
          'RateLimit', format('"write";r=0;t=%s', taken ->> 'reset')
        )
      )::text;
  end if;
  perform set_config(
    'response.headers',
    json_build_array(
      json_build_object('RateLimit-Policy', policy_header),
      json_build_object('RateLimit', format('"write";r=%s;t=%s', taken ->> 'remaining', taken ->> 'reset'))
    )::text,
    true
  );
end;
$$;
revoke execute on function private.take_write_unit(text) from public, anon, authenticated, service_role;

-- The pre-request: the live-session check of 20261203080100, then the write
-- limit. A write is what PostgREST runs in a read-write transaction: POST,
-- PATCH, PUT and DELETE on tables, and POST to a volatile function. A GET, and
-- a POST to a stable function (rpc/list_vehicles, rpc/me, ...), runs read-only
-- and is not counted. Volatile now, since it writes the counter.
create or replace function request_hooks.check_request()
returns void
language plpgsql
volatile
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
  if current_setting('request.method', true) in ('POST', 'PATCH', 'PUT', 'DELETE')
     and current_setting('transaction_read_only') = 'off'
  then
    perform private.take_write_unit(claims ->> 'sub');
  end if;
end;
$$;
revoke execute on function request_hooks.check_request() from public;
grant execute on function request_hooks.check_request() to anon, authenticated, service_role;
