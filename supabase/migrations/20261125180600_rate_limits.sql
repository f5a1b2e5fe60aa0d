-- Rate limiting shared by every function instance: fixed windows per key, in
-- Postgres, checked and counted in one locked step so that no concurrency can
-- admit more than the limit.

create table private.rate_limits (
  key text primary key,
  window_start timestamptz not null,
  window_end timestamptz not null,
  count integer not null,
  constraint rate_limits_count_nonnegative check (count >= 0)
);
comment on table private.rate_limits is
  'Requests counted per key and window. Reached only through public.rate_limit_take (service role).';
create index rate_limits_window_end_idx on private.rate_limits (window_end);
alter table private.rate_limits enable row level security;
revoke all on private.rate_limits from public, anon, authenticated;
-- Only the service role counts (the API, with the secret key); it bypasses RLS.
grant select, insert, update, delete on private.rate_limits to service_role;

-- Security invoker: it runs as the service role, the only role granted the table.
-- Take up to p_cost units from the key's current window (partial grants let an
-- instance reserve a batch). Returns granted units, units left, and the whole
-- seconds until the window resets. p_now exists for tests; the API leaves it
-- null so every instance uses the database clock.
create or replace function public.rate_limit_take(
  p_key text,
  p_limit integer,
  p_window_seconds integer,
  p_cost integer default 1,
  p_now timestamptz default null
)
returns jsonb
language plpgsql
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
revoke execute on function public.rate_limit_take(text, integer, integer, integer, timestamptz)
  from public, anon, authenticated;
grant execute on function public.rate_limit_take(text, integer, integer, integer, timestamptz) to service_role;
