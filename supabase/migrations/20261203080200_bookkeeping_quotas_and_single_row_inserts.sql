-- What a direct /rest/v1 caller with their own token can no longer do:
--   * call the idempotency bookkeeping (it stored any body, up to 15 MB, for 24 h);
--   * insert many rows in one request (the API never does);
--   * store more than their quota of vehicles and maintenance records.

-- Idempotency bookkeeping ----------------------------------------------------
-- The API stores a create's final client error for replay. Only the service
-- role may call this now: the API has verified the caller and passes their id,
-- so no user can write bookkeeping rows of their own choosing. The stored body
-- is the API's own problem document, bounded in size.
drop function if exists public.idempotency_store(text, text, integer, text);
drop function if exists public.idempotency_lookup(text, text);

create or replace function private.idempotency_store_failure(
  p_user_id uuid, p_key text, p_request_hash text, p_status integer, p_body text
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if p_user_id is null or p_status < 400 or p_status >= 500 or octet_length(p_body) > 16384 then
    raise exception 'only a final client error of at most 16 KiB is stored' using errcode = '22023';
  end if;
  insert into private.idempotency_keys (user_id, key, request_hash, status, resource, body)
  values (p_user_id, p_key, p_request_hash, p_status, null, p_body)
  on conflict (user_id, key) do nothing;
  perform private.idempotency_sweep();
end;
$$;
revoke execute on function private.idempotency_store_failure(uuid, text, text, integer, text)
  from public, anon, authenticated;
grant execute on function private.idempotency_store_failure(uuid, text, text, integer, text) to service_role;

create or replace function public.idempotency_store(
  p_user_id uuid, p_key text, p_request_hash text, p_status integer, p_body text
)
returns void
language sql
security invoker
set search_path = ''
as $$
  select private.idempotency_store_failure(p_user_id, p_key, p_request_hash, p_status, p_body)
$$;
revoke execute on function public.idempotency_store(uuid, text, text, integer, text) from public, anon, authenticated;
grant execute on function public.idempotency_store(uuid, text, text, integer, text) to service_role;

-- The creates' own bookkeeping stays inside create_vehicle/create_maintenance_record
-- (which run as the caller, so they keep EXECUTE on the private begin/complete
-- helpers; `private` is not exposed, so no request reaches those directly), and
-- is bounded by the created row.
revoke execute on function private.idempotency_find(text, text) from authenticated;

-- One row per insert request -------------------------------------------------
-- A signed-in caller inserts one vehicle or record per request (the API's
-- creates never insert more); a 500-row array is refused whole.
create or replace function private.one_row_per_insert()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if coalesce(auth.jwt() ->> 'role', '') = 'authenticated' and (select count(*) from inserted) > 1 then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'VB400', 'message', 'Insert one row per request', 'details', null, 'hint', null
      )::text,
      detail = json_build_object('status', 400, 'headers', json_build_object())::text;
  end if;
  return null;
end;
$$;
revoke execute on function private.one_row_per_insert() from public, anon, authenticated;

create trigger one_row_per_insert after insert on public.vehicles
  referencing new table as inserted
  for each statement execute function private.one_row_per_insert();
create trigger one_row_per_insert after insert on public.maintenance_records
  referencing new table as inserted
  for each statement execute function private.one_row_per_insert();

-- Per-user quotas --------------------------------------------------------------
-- How much each user may store; operators change a row to change a quota.
create table private.quotas (
  name text primary key,
  max_rows integer not null check (max_rows > 0)
);
comment on table private.quotas is 'Per-user storage quotas, enforced by insert triggers for signed-in callers.';
alter table private.quotas enable row level security;
revoke all on private.quotas from public, anon, authenticated;
insert into private.quotas (name, max_rows) values ('vehicles', 10000), ('maintenance_records', 100000);

-- Each user's stored rows are kept in a counter, so an insert costs one
-- primary-key upsert instead of counting up to the quota; the counter row's lock
-- serialises one user's concurrent inserts.
-- No foreign key to auth.users: the counter is taken before the row's own foreign keys
-- are checked, so an unknown owner must still fail on the row's constraint (a 422 that
-- names owner_id), not on this table's. A deleted user's rows cascade to zero.
create table private.usage (
  user_id uuid not null,
  kind text not null,
  used integer not null default 0 check (used >= 0),
  primary key (user_id, kind)
);
comment on table private.usage is
  'Rows each user stores, per quota (private.quotas); kept by triggers on the counted tables.';
alter table private.usage enable row level security;
revoke all on private.usage from public, anon, authenticated, service_role;

insert into private.usage (user_id, kind, used)
select owner_id, 'vehicles', count(*) from public.vehicles group by owner_id;
insert into private.usage (user_id, kind, used)
select created_by, 'maintenance_records', count(*) from public.maintenance_records group by created_by;

-- Counts every insert, whoever makes it; refuses past the quota for signed-in callers only
-- (the service role and migrations are operators).
create or replace function private.enforce_quota()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  owner uuid;
  allowed integer;
  now_used integer;
begin
  -- One statement per table: plpgsql resolves a record's fields when a statement runs.
  if tg_table_name = 'vehicles' then
    owner := new.owner_id;
  else
    owner := new.created_by;
  end if;
  if owner is null then
    return new;
  end if;
  insert into private.usage as u (user_id, kind, used) values (owner, tg_table_name, 1)
  on conflict (user_id, kind) do update set used = u.used + 1
  returning u.used into now_used;
  if coalesce(auth.jwt() ->> 'role', '') <> 'authenticated' then
    return new;
  end if;
  select q.max_rows into allowed from private.quotas q where q.name = tg_table_name;
  if allowed is not null and now_used > allowed then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'VQ403', 'message', 'Storage quota exceeded', 'details', null, 'hint', tg_table_name
      )::text,
      detail = json_build_object('status', 403, 'headers', json_build_object())::text;
  end if;
  return new;
end;
$$;
revoke execute on function private.enforce_quota() from public, anon, authenticated;

create trigger enforce_quota before insert on public.vehicles
  for each row execute function private.enforce_quota();
create trigger enforce_quota before insert on public.maintenance_records
  for each row execute function private.enforce_quota();

-- Deletes (cascades included) and an admin's change of owner move the counts.
create or replace function private.release_quota()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  previous uuid;
begin
  if tg_table_name = 'vehicles' then
    previous := old.owner_id;
  else
    previous := old.created_by;
  end if;
  update private.usage set used = greatest(used - 1, 0) where user_id = previous and kind = tg_table_name;
  if tg_op = 'UPDATE' then  -- only vehicles' owner_id moves (a record's author is pinned)
    insert into private.usage as u (user_id, kind, used) values (new.owner_id, tg_table_name, 1)
    on conflict (user_id, kind) do update set used = u.used + 1;
  end if;
  return null;
end;
$$;
revoke execute on function private.release_quota() from public, anon, authenticated;

create trigger release_quota after delete on public.vehicles
  for each row execute function private.release_quota();
create trigger release_quota after delete on public.maintenance_records
  for each row execute function private.release_quota();
create trigger move_quota after update of owner_id on public.vehicles
  for each row when (old.owner_id is distinct from new.owner_id)
  execute function private.release_quota();
