-- Quotas without counting: each user's stored rows are kept in a counter, so an
-- insert costs one primary-key upsert instead of counting up to the quota
-- (10,000 index entries for a user at the vehicle quota, 100,000 for records).
-- The counter row's lock also serialises one user's concurrent inserts, as the
-- advisory lock did.

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
