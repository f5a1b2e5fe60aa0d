-- Keyset-paginated list queries, called as read-only (GET) RPCs with the
-- caller's token. They run as the caller (security invoker), so RLS decides
-- what each caller sees; every argument is bound as data, never spliced into
-- SQL, and the sort column comes from an allow-list.

-- Vehicle ids whose make, model, plate or VIN match a LIKE pattern, among the
-- rows the caller may see. Security definer because RLS keeps non-leakproof
-- operators such as ILIKE from using indexes; the same visibility rule as the
-- select policy is applied here, so the function reveals nothing on its own.
create or replace function private.vehicles_matching(p_pattern text)
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query execute
    'select v.id from public.vehicles v
     where (v.make ilike $1 or v.model ilike $1 or v.plate ilike $1 or v.vin ilike $1)
       and (v.owner_id = (select auth.uid()) or (select private.authorize(''vehicles.read.any'')))'
  using p_pattern;
end;
$$;
revoke execute on function private.vehicles_matching(text) from public, anon;
grant execute on function private.vehicles_matching(text) to authenticated, service_role;

create or replace function public.list_vehicles(
  p_sort text default '-created_at',
  p_limit integer default 20,
  p_status public.vehicle_status default null,
  p_make text default null,
  p_model text default null,
  p_model_year integer default null,
  p_year_min integer default null,
  p_year_max integer default null,
  p_owner_id uuid default null,
  p_q text default null,
  p_after text default null,
  p_after_id uuid default null
)
returns setof public.vehicles
language plpgsql
stable
set search_path = ''
as $$
declare
  sort_column text := case when left(p_sort, 1) = '-' then substr(p_sort, 2) else p_sort end;
  descending boolean := left(p_sort, 1) = '-';
  sort_type text;
  pattern text;
  only_owner uuid;
  matching uuid[];
begin
  sort_type := case sort_column
    when 'created_at' then 'timestamptz'
    when 'model_year' then 'integer'
    when 'make' then 'text'
    when 'odometer_km' then 'integer'
  end;
  if sort_type is null or p_limit not between 1 and 1000 or (p_after is null) <> (p_after_id is null) then
    raise exception 'invalid list arguments' using errcode = '22023';
  end if;
  if p_q is not null then
    -- A literal substring: LIKE's wildcards and escape character are escaped.
    pattern := '%' || replace(replace(replace(p_q, '\', '\\'), '%', '\%'), '_', '\_') || '%';
  end if;
  -- Members see only their own rows anyway (RLS); saying so lets the planner
  -- use the (owner_id, sort, id) indexes instead of filtering a global scan.
  if not private.authorize('vehicles.read.any') then
    only_owner := auth.uid();
  end if;
  -- A q of three or more characters is matched through the trigram indexes
  -- (private.vehicles_matching) first; the ids then come back by primary key
  -- (uuid equality is leakproof, so RLS lets it use the index), and the fence
  -- (offset 0) makes the planner sort those matches instead of walking a sort
  -- index past every non-match.
  if char_length(p_q) >= 3 then
    matching := array(select private.vehicles_matching(pattern));
  end if;
  return query execute format(
    $sql$
      select * from (
        select v.* from public.vehicles v
        where ($1 is null or v.status = $1)
          and ($2 is null or lower(v.make) = lower($2))
          and ($3 is null or v.model = $3)
          and ($4 is null or v.model_year = $4)
          and ($5 is null or v.model_year >= $5)
          and ($6 is null or v.model_year <= $6)
          and ($7 is null or v.owner_id = $7)
          and ($8 is null or v.make ilike $8 or v.model ilike $8 or v.plate ilike $8 or v.vin ilike $8)
          and ($13 is null or v.id = any ($13))
          and ($9 is null or v.owner_id = $9)
          and ($10 is null or (v.%1$I, v.id) %2$s ($10::%3$s, $11))
        %5$s
      ) v
      order by v.%1$I %4$s, v.id %4$s
      limit $12
    $sql$,
    sort_column,
    case when descending then '<' else '>' end,
    sort_type,
    case when descending then 'desc' else 'asc' end,
    case when char_length(p_q) >= 3 then 'offset 0' else '' end
  )
  using p_status, p_make, p_model, p_model_year, p_year_min, p_year_max, p_owner_id,
        pattern, only_owner, p_after, p_after_id, p_limit,
        matching;
end;
$$;
revoke execute on function public.list_vehicles(
  text, integer, public.vehicle_status, text, text, integer, integer, integer, uuid, text, text, uuid
) from public, anon;
grant execute on function public.list_vehicles(
  text, integer, public.vehicle_status, text, text, integer, integer, integer, uuid, text, text, uuid
) to authenticated, service_role;

-- Newest performed_at first. A vehicle the caller cannot see is an error
-- (VN404), so the API answers 404 in one round trip.
create or replace function public.list_maintenance(
  p_vehicle_id uuid,
  p_limit integer default 20,
  p_after_performed_at date default null,
  p_after_created_at timestamptz default null,
  p_after_id uuid default null
)
returns setof public.maintenance_records
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_limit not between 1 and 1000 then
    raise exception 'invalid list arguments' using errcode = '22023';
  end if;
  if not exists (select 1 from public.vehicles where id = p_vehicle_id) then
    raise exception 'vehicle not found' using errcode = 'VN404';
  end if;
  return query
    select m.* from public.maintenance_records m
    where m.vehicle_id = p_vehicle_id
      and (p_after_id is null
           or (m.performed_at, m.created_at, m.id) < (p_after_performed_at, p_after_created_at, p_after_id))
    order by m.performed_at desc, m.created_at desc, m.id desc
    limit p_limit;
end;
$$;
revoke execute on function public.list_maintenance(uuid, integer, date, timestamptz, uuid) from public, anon;
grant execute on function public.list_maintenance(uuid, integer, date, timestamptz, uuid)
  to authenticated, service_role;

-- Users with their role, oldest first; RLS limits non-admins to themselves.
create or replace function public.list_users(
  p_limit integer default 20,
  p_after_created_at timestamptz default null,
  p_after_id uuid default null
)
returns table (id uuid, email text, role public.app_role, created_at timestamptz)
language sql
stable
set search_path = ''
as $$
  select p.id, p.email, coalesce(r.role, 'member'::public.app_role), p.created_at
  from public.profiles p
  left join public.user_roles r on r.user_id = p.id
  where p_after_id is null or (p.created_at, p.id) > (p_after_created_at, p_after_id)
  order by p.created_at, p.id
  limit least(greatest(p_limit, 1), 1000)
$$;
revoke execute on function public.list_users(integer, timestamptz, uuid) from public, anon;
grant execute on function public.list_users(integer, timestamptz, uuid) to authenticated, service_role;

-- Newest first, optionally filtered; RLS limits it to callers with audit.read.
create or replace function public.list_audit(
  p_limit integer default 20,
  p_table text default null,
  p_record_id text default null,
  p_actor_id uuid default null,
  p_after_at timestamptz default null,
  p_after_id bigint default null
)
returns setof public.audit_log
language sql
stable
set search_path = ''
as $$
  select a.* from public.audit_log a
  where (p_table is null or a.table_name = p_table)
    and (p_record_id is null or a.record_id = p_record_id)
    and (p_actor_id is null or a.actor_id = p_actor_id)
    and (p_after_id is null or (a.at, a.id) < (p_after_at, p_after_id))
  order by a.at desc, a.id desc
  limit least(greatest(p_limit, 1), 1000)
$$;
revoke execute on function public.list_audit(integer, text, text, uuid, timestamptz, bigint) from public, anon;
grant execute on function public.list_audit(integer, text, text, uuid, timestamptz, bigint)
  to authenticated, service_role;
