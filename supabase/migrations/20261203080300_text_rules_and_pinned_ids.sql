-- Rules the API enforces, held in the database for direct /rest/v1 writes too
-- (the publishable key is public: anyone who signs up can write with their own
-- token, skipping the API):
--   * maintenance history is append-only except for admins;
--   * ids are the database's: an insert never chooses one, an update never
--     changes one, nor a record's vehicle_id or created_by;
--   * every text column follows the API's text rule (lib/contract/validation.py), with
--     the same strictness.

-- The text rule --------------------------------------------------------------
--
-- Not empty, no surrounding whitespace (the API trims it), and none of the
-- forbidden characters anywhere: C0 and C1 controls, line and paragraph
-- separators, bidirectional embeddings, overrides and isolates, zero-width
-- characters. The two bracket expressions are lib.contract.validation's FORBIDDEN_CLASS
-- and TRIMMED_CLASS, character for character; tests/db/test_direct_rules.py
-- checks that, and that this function and the API agree on every code point.
-- NULL is no text: a column's own NOT NULL (or its absence) decides.
create or replace function private.text_ok(value text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select value !~ '[\u0000-\u001f\u007f-\u009f\u200b-\u200d\u2028-\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]'
     and value ~ '^[^\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]'
     and value ~ '[^\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]$'
$$;
comment on function private.text_ok(text) is
  'The API''s text rule (lib/contract/validation.py): not empty, trimmed, no control, separator, bidi or zero-width character.';
-- CHECK constraints run as the writer.
revoke execute on function private.text_ok(text) from public, anon;
grant execute on function private.text_ok(text) to authenticated, service_role;

-- Same names as before, so lib/supabase/db_errors.py maps them to the same fields.
alter table public.vehicles
  drop constraint vehicles_make_check,
  drop constraint vehicles_model_check,
  drop constraint vehicles_plate_format,
  drop constraint vehicles_color_check,
  add constraint vehicles_make_check check (char_length(make) between 1 and 64 and private.text_ok(make)),
  add constraint vehicles_model_check check (char_length(model) between 1 and 64 and private.text_ok(model)),
  add constraint vehicles_plate_format check (plate ~ '^[A-Z0-9 -]{1,16}$' and private.text_ok(plate)),
  add constraint vehicles_color_check check (char_length(color) between 1 and 32 and private.text_ok(color));

-- currency keeps its own, stricter rule (three upper-case letters).
alter table public.maintenance_records
  drop constraint maintenance_description_text,
  add constraint maintenance_description_text check (private.text_ok(description));

-- Ids -------------------------------------------------------------------------
--
-- An insert never chooses an id: the API roles may insert every column but id,
-- so PostgREST refuses a body (or an upsert) naming one with 42501 (403). The
-- API's create functions name their columns and never id. The service role
-- (the secret key, server-side) keeps its table-wide grants.
revoke insert on public.vehicles from anon, authenticated;
grant insert (
  vin, make, model, model_year, plate, color, odometer_km, status, owner_id, version, created_at, updated_at
) on public.vehicles to authenticated;
revoke insert on public.maintenance_records from anon, authenticated;
grant insert (
  vehicle_id, performed_at, odometer_km, kind, description, cost_cents, currency, created_by, created_at
) on public.maintenance_records to authenticated;

-- An update never changes the listed columns. Writing the same value is no
-- change (as for the VIN). Not security definer: it only compares the row.
create or replace function private.pinned_columns()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  column_name text;
  before jsonb := to_jsonb(old);
  after jsonb := to_jsonb(new);
begin
  foreach column_name in array tg_argv loop
    if after -> column_name is distinct from before -> column_name then
      raise exception '% cannot be changed', column_name
        using errcode = 'VV422', hint = column_name || '_immutable';
    end if;
  end loop;
  return new;
end;
$$;
revoke execute on function private.pinned_columns() from public, anon, authenticated;

create trigger pinned_columns
  before update of id on public.vehicles
  for each row execute function private.pinned_columns('id');
create trigger pinned_columns
  before update of id, vehicle_id, created_by on public.maintenance_records
  for each row execute function private.pinned_columns('id', 'vehicle_id', 'created_by');

-- maintenance_before_write used to put created_by back silently; it runs
-- before pinned_columns (triggers fire in name order), so it must leave
-- created_by alone for the change to be refused instead.
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
  end if;
  return new;
end;
$$;
revoke execute on function private.maintenance_before_write() from public, anon, authenticated;

-- Maintenance history is append-only except for admins --------------------------
--
-- Members and managers add records (the insert policy is unchanged) but never
-- rewrite or remove one; an admin may correct or delete any. Deleting a
-- vehicle still deletes its records: the foreign key's cascade runs as the
-- table owner, outside these policies, for whoever may delete the vehicle.
drop policy "maintenance: update where the vehicle is updatable" on public.maintenance_records;
drop policy "maintenance: delete where the vehicle is deletable" on public.maintenance_records;

create policy "maintenance: update by admins only"
  on public.maintenance_records for update to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));
create policy "maintenance: delete by admins only"
  on public.maintenance_records for delete to authenticated
  using ((select private.is_admin()));
