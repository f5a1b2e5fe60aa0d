-- Vehicles and their maintenance records, with the contract's rules enforced in
-- the database (a caller's token used straight against PostgREST gets no more
-- than the API gives, and no less valid data).

create extension if not exists pg_trgm with schema extensions;

create type public.vehicle_status as enum ('active', 'maintenance', 'retired');

-- 49 CFR 565: North American VINs (first character 1-5) carry a check digit in
-- position 9. Executable by the API roles because CHECK runs as the writer.
create or replace function private.vin_check_digit_ok(vin text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select vin !~ '^[1-5]' or substr(vin, 9, 1) = (
    select case when total % 11 = 10 then 'X' else (total % 11)::text end
    from (
      select sum(
        case when c ~ '[0-9]' then c::integer
             else (array[1,2,3,4,5,6,7,8,0,1,2,3,4,5,0,7,0,9,2,3,4,5,6,7,8,9])[ascii(c) - 64] end
        * (array[8,7,6,5,4,3,2,10,0,9,8,7,6,5,4,3,2])[position]
      ) as total
      from generate_series(1, 17) as position, lateral (select substr(vin, position, 1) as c) as chars
    ) as sums
  )
$$;
revoke execute on function private.vin_check_digit_ok(text) from public, anon;
grant execute on function private.vin_check_digit_ok(text) to authenticated, service_role;
create type public.maintenance_kind as enum ('service', 'repair', 'inspection', 'tires', 'other');

create table public.vehicles (
  id uuid primary key default gen_random_uuid(),
  vin text not null,
  make text not null,
  model text not null,
  model_year integer not null,
  plate text,
  color text,
  odometer_km integer not null default 0,
  status public.vehicle_status not null default 'active',
  owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- ISO 3779: 17 characters, no I, O or Q.
  constraint vehicles_vin_format check (vin ~ '^[A-HJ-NPR-Z0-9]{17}$'),
  constraint vehicles_vin_check_digit check (private.vin_check_digit_ok(vin)),
  constraint vehicles_vin_key unique (vin),
  constraint vehicles_make_check check (
    char_length(make) between 1 and 64 and make = btrim(make) and make !~ '[\u0001-\u001f\u007f]'
  ),
  constraint vehicles_model_check check (
    char_length(model) between 1 and 64 and model = btrim(model) and model !~ '[\u0001-\u001f\u007f]'
  ),
  -- The upper bound moves with the calendar, so a trigger checks it.
  constraint vehicles_model_year_check check (model_year >= 1981),
  constraint vehicles_plate_format check (plate ~ '^[A-Z0-9 -]{1,16}$'),
  constraint vehicles_color_check check (
    char_length(color) between 1 and 32 and color !~ '[\u0001-\u001f\u007f]'
  ),
  constraint vehicles_odometer_range check (odometer_km between 0 and 2000000),
  constraint vehicles_version_positive check (version >= 1)
);
comment on table public.vehicles is 'Vehicles; members see their own, managers and admins all (RLS).';

create table public.maintenance_records (
  id uuid primary key default gen_random_uuid(),
  vehicle_id uuid not null references public.vehicles (id) on delete cascade,
  performed_at date not null,
  odometer_km integer not null,
  kind public.maintenance_kind not null,
  description text,
  cost_cents integer,
  currency text not null default 'USD',
  created_by uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  constraint maintenance_odometer_range check (odometer_km between 0 and 2000000),
  constraint maintenance_description_length check (char_length(description) <= 2000),
  constraint maintenance_description_text check (description !~ '[\u0001-\u001f\u007f]'),
  constraint maintenance_cost_nonnegative check (cost_cents >= 0),
  constraint maintenance_currency_format check (currency ~ '^[A-Z]{3}$')
);
comment on table public.maintenance_records is 'Service history; visible to whoever sees the vehicle (RLS).';

-- Indexes: one per list sort (keyset pages on (key, id)), RLS and filters. ------

create index vehicles_created_at_id_idx on public.vehicles (created_at, id);
create index vehicles_model_year_id_idx on public.vehicles (model_year, id);
create index vehicles_make_id_idx on public.vehicles (make, id);
create index vehicles_odometer_km_id_idx on public.vehicles (odometer_km, id);
create index vehicles_owner_created_at_id_idx on public.vehicles (owner_id, created_at, id);
create index vehicles_owner_model_year_id_idx on public.vehicles (owner_id, model_year, id);
create index vehicles_owner_make_id_idx on public.vehicles (owner_id, make, id);
create index vehicles_owner_odometer_km_id_idx on public.vehicles (owner_id, odometer_km, id);
create index vehicles_lower_make_idx on public.vehicles (lower(make), created_at, id);
create index vehicles_status_created_at_id_idx on public.vehicles (status, created_at, id);
-- `q` is a case-insensitive substring of make, model, plate or VIN.
create index vehicles_make_trgm_idx on public.vehicles using gin (make extensions.gin_trgm_ops);
create index vehicles_model_trgm_idx on public.vehicles using gin (model extensions.gin_trgm_ops);
create index vehicles_plate_trgm_idx on public.vehicles using gin (plate extensions.gin_trgm_ops);
create index vehicles_vin_trgm_idx on public.vehicles using gin (vin extensions.gin_trgm_ops);

create index maintenance_vehicle_performed_idx
  on public.maintenance_records (vehicle_id, performed_at desc, created_at desc, id desc);
create index maintenance_created_by_idx on public.maintenance_records (created_by);

-- Triggers ------------------------------------------------------------------

create or replace function private.is_admin()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(auth.jwt() ->> 'user_role', '') = 'admin'
$$;
revoke execute on function private.is_admin() from public, anon;
grant execute on function private.is_admin() to authenticated, service_role;

-- Rules that involve the clock or the previous row, which CHECK cannot express.
create or replace function private.vehicles_before_write()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.model_year > extract(year from now() at time zone 'utc')::integer + 2 then
    raise exception 'model_year is too far in the future'
      using errcode = 'check_violation', constraint = 'vehicles_model_year_check', hint = 'model_year_range';
  end if;
  if tg_op = 'INSERT' then
    new.version := 1;
    new.created_at := now();
    new.updated_at := new.created_at;
    return new;
  end if;
  if new.vin is distinct from old.vin then
    raise exception 'vin is immutable' using errcode = 'VV422', hint = 'vin_immutable';
  end if;
  if new.owner_id is distinct from old.owner_id and not (private.is_admin() or private.is_privileged()) then
    raise exception 'only an admin can change owner_id' using errcode = 'insufficient_privilege';
  end if;
  if new.odometer_km < old.odometer_km then
    raise exception 'odometer_km cannot decrease' using errcode = 'VO422', hint = 'odometer_rollback';
  end if;
  new.created_at := old.created_at;
  new.version := old.version + 1;
  new.updated_at := now();
  return new;
end;
$$;
revoke execute on function private.vehicles_before_write() from public, anon;

create trigger vehicles_before_write
  before insert or update on public.vehicles
  for each row execute function private.vehicles_before_write();

create or replace function private.maintenance_before_write()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.performed_at > (now() at time zone 'utc')::date then
    raise exception 'performed_at is in the future'
      using errcode = 'check_violation', constraint = 'maintenance_performed_at_not_future',
            hint = 'performed_at_future';
  end if;
  if tg_op = 'INSERT' then
    new.created_at := now();
  else
    new.created_at := old.created_at;
    new.created_by := old.created_by;
  end if;
  return new;
end;
$$;
revoke execute on function private.maintenance_before_write() from public, anon;

create trigger maintenance_before_write
  before insert or update on public.maintenance_records
  for each row execute function private.maintenance_before_write();

-- A record above the vehicle's odometer raises it (and its version) in the same
-- transaction. Security definer: the insert policy already proved the caller
-- may update the vehicle, and the raise must not silently miss under RLS.
create or replace function private.maintenance_raise_odometer()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.vehicles
     set odometer_km = new.odometer_km
   where id = new.vehicle_id
     and odometer_km < new.odometer_km;
  return null;
end;
$$;
revoke execute on function private.maintenance_raise_odometer() from public, anon, authenticated;

create trigger maintenance_raise_odometer
  after insert or update of odometer_km on public.maintenance_records
  for each row execute function private.maintenance_raise_odometer();

-- Row level security ----------------------------------------------------------

alter table public.vehicles enable row level security;
alter table public.maintenance_records enable row level security;

create policy "vehicles: select own, or any with vehicles.read.any"
  on public.vehicles for select to authenticated
  using (owner_id = (select auth.uid()) or (select private.authorize('vehicles.read.any')));
create policy "vehicles: insert own, or for anyone with vehicles.write.any"
  on public.vehicles for insert to authenticated
  with check (owner_id = (select auth.uid()) or (select private.authorize('vehicles.write.any')));
create policy "vehicles: update own, or any with vehicles.write.any"
  on public.vehicles for update to authenticated
  using (owner_id = (select auth.uid()) or (select private.authorize('vehicles.write.any')))
  with check (
    owner_id = (select auth.uid())
    or (select private.authorize('vehicles.write.any'))
  );
create policy "vehicles: delete own, or any with vehicles.delete.any"
  on public.vehicles for delete to authenticated
  using (owner_id = (select auth.uid()) or (select private.authorize('vehicles.delete.any')));

-- Records follow their vehicle: the subquery runs under the vehicles policies.
create policy "maintenance: select where the vehicle is visible"
  on public.maintenance_records for select to authenticated
  using (exists (select 1 from public.vehicles v where v.id = vehicle_id));
create policy "maintenance: insert where the vehicle is updatable"
  on public.maintenance_records for insert to authenticated
  with check (
    created_by = (select auth.uid())
    and exists (
      select 1 from public.vehicles v
      where v.id = vehicle_id
        and (v.owner_id = (select auth.uid()) or (select private.authorize('vehicles.write.any')))
    )
  );
create policy "maintenance: update where the vehicle is updatable"
  on public.maintenance_records for update to authenticated
  using (
    exists (
      select 1 from public.vehicles v
      where v.id = vehicle_id
        and (v.owner_id = (select auth.uid()) or (select private.authorize('vehicles.write.any')))
    )
  )
  with check (
    exists (
      select 1 from public.vehicles v
      where v.id = vehicle_id
        and (v.owner_id = (select auth.uid()) or (select private.authorize('vehicles.write.any')))
    )
  );
create policy "maintenance: delete where the vehicle is deletable"
  on public.maintenance_records for delete to authenticated
  using (
    exists (
      select 1 from public.vehicles v
      where v.id = vehicle_id
        and (v.owner_id = (select auth.uid()) or (select private.authorize('vehicles.delete.any')))
    )
  );
