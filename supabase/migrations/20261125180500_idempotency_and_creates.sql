-- Idempotency-Key support and the two create operations that honour it.
--
-- The create and the record of its response commit in ONE transaction, so a
-- response lost on the wire (insert committed, connection dropped) is replayed
-- on retry instead of creating a second row. Keys are scoped to auth.uid(),
-- derived here from the verified token, never passed in by the caller.

create table private.idempotency_keys (
  user_id uuid not null,
  key text not null,
  request_hash text not null,
  status integer not null,
  resource jsonb,
  body text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '24 hours',
  primary key (user_id, key),
  constraint idempotency_key_length check (char_length(key) between 1 and 255)
);
comment on table private.idempotency_keys is
  'First response per (user, Idempotency-Key), kept 24 h. Reachable only through the functions below.';
create index idempotency_keys_expires_at_idx on private.idempotency_keys (expires_at);
alter table private.idempotency_keys enable row level security;
revoke all on private.idempotency_keys from public, anon, authenticated;

-- Expired keys are cleaned opportunistically, a few per write, so no cron is needed.
create or replace function private.idempotency_sweep()
returns void
language sql
security definer
set search_path = ''
as $$
  delete from private.idempotency_keys
  where ctid = any (array(
    select ctid from private.idempotency_keys where expires_at < now() limit 50
  ))
$$;
revoke execute on function private.idempotency_sweep() from public, anon, authenticated;

-- The stored response for the caller's key, or null. Raises VI422 when the key
-- was used with another request.
create or replace function private.idempotency_find(p_key text, p_request_hash text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  found private.idempotency_keys;
begin
  select * into found from private.idempotency_keys
  where user_id = auth.uid() and key = p_key and expires_at > now();
  if found is null then
    return null;
  end if;
  if found.request_hash <> p_request_hash then
    raise exception 'idempotency key reused with a different request'
      using errcode = 'VI422', hint = 'idempotency_key_reused';
  end if;
  return jsonb_build_object('replay', true, 'status', found.status, 'resource', found.resource, 'body', found.body);
end;
$$;
revoke execute on function private.idempotency_find(text, text) from public, anon;
grant execute on function private.idempotency_find(text, text) to authenticated;

-- Claim the key for this transaction. Raises VI409 while another request with
-- the same key is running; returns the stored response if one exists.
create or replace function private.idempotency_begin(p_key text, p_request_hash text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception 'idempotency keys need a signed-in caller' using errcode = '42501';
  end if;
  if not pg_try_advisory_xact_lock(hashtextextended(auth.uid()::text || ':' || p_key, 0)) then
    raise exception 'a request with this idempotency key is in progress'
      using errcode = 'VI409', hint = 'idempotency_in_progress';
  end if;
  delete from private.idempotency_keys
  where user_id = auth.uid() and key = p_key and expires_at <= now();
  return private.idempotency_find(p_key, p_request_hash);
end;
$$;
revoke execute on function private.idempotency_begin(text, text) from public, anon;
grant execute on function private.idempotency_begin(text, text) to authenticated;

create or replace function private.idempotency_complete(
  p_key text, p_request_hash text, p_status integer, p_resource jsonb, p_body text
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into private.idempotency_keys (user_id, key, request_hash, status, resource, body)
  values (auth.uid(), p_key, p_request_hash, p_status, p_resource, p_body)
  on conflict (user_id, key) do nothing;
  perform private.idempotency_sweep();
end;
$$;
revoke execute on function private.idempotency_complete(text, text, integer, jsonb, text) from public, anon;
grant execute on function private.idempotency_complete(text, text, integer, jsonb, text) to authenticated;

-- API-facing: look up a key (replay or VI422), for requests that fail before the create.
create or replace function public.idempotency_lookup(p_key text, p_request_hash text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select private.idempotency_find(p_key, p_request_hash)
$$;

-- API-facing: remember a final non-success response (first one wins).
create or replace function public.idempotency_store(
  p_key text, p_request_hash text, p_status integer, p_body text
)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if p_status < 400 or p_status >= 500 then
    raise exception 'only final client errors are stored this way' using errcode = '22023';
  end if;
  perform private.idempotency_complete(p_key, p_request_hash, p_status, null, p_body);
end;
$$;

create or replace function public.create_vehicle(
  p_vehicle jsonb,
  p_idempotency_key text default null,
  p_request_hash text default null
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  stored jsonb;
  created public.vehicles;
begin
  if p_idempotency_key is not null then
    stored := private.idempotency_begin(p_idempotency_key, p_request_hash);
    if stored is not null then
      return stored;
    end if;
  end if;
  insert into public.vehicles (vin, make, model, model_year, plate, color, odometer_km, status, owner_id)
  values (
    p_vehicle ->> 'vin',
    p_vehicle ->> 'make',
    p_vehicle ->> 'model',
    (p_vehicle ->> 'model_year')::integer,
    p_vehicle ->> 'plate',
    p_vehicle ->> 'color',
    coalesce((p_vehicle ->> 'odometer_km')::integer, 0),
    coalesce((p_vehicle ->> 'status')::public.vehicle_status, 'active'),
    coalesce((p_vehicle ->> 'owner_id')::uuid, auth.uid())
  )
  returning * into created;
  if p_idempotency_key is not null then
    perform private.idempotency_complete(p_idempotency_key, p_request_hash, 201, to_jsonb(created), null);
  end if;
  return jsonb_build_object('replay', false, 'status', 201, 'resource', to_jsonb(created));
end;
$$;

create or replace function public.create_maintenance_record(
  p_vehicle_id uuid,
  p_record jsonb,
  p_idempotency_key text default null,
  p_request_hash text default null
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  stored jsonb;
  created public.maintenance_records;
begin
  if p_idempotency_key is not null then
    stored := private.idempotency_begin(p_idempotency_key, p_request_hash);
    if stored is not null then
      return stored;
    end if;
  end if;
  if not exists (select 1 from public.vehicles where id = p_vehicle_id) then
    raise exception 'vehicle not found' using errcode = 'VN404';
  end if;
  insert into public.maintenance_records
    (vehicle_id, performed_at, odometer_km, kind, description, cost_cents, currency, created_by)
  values (
    p_vehicle_id,
    (p_record ->> 'performed_at')::date,
    (p_record ->> 'odometer_km')::integer,
    (p_record ->> 'kind')::public.maintenance_kind,
    p_record ->> 'description',
    (p_record ->> 'cost_cents')::integer,
    coalesce(p_record ->> 'currency', 'USD'),
    auth.uid()
  )
  returning * into created;
  if p_idempotency_key is not null then
    perform private.idempotency_complete(p_idempotency_key, p_request_hash, 201, to_jsonb(created), null);
  end if;
  return jsonb_build_object('replay', false, 'status', 201, 'resource', to_jsonb(created));
end;
$$;

revoke execute on function public.idempotency_lookup(text, text) from public, anon;
revoke execute on function public.idempotency_store(text, text, integer, text) from public, anon;
revoke execute on function public.create_vehicle(jsonb, text, text) from public, anon;
revoke execute on function public.create_maintenance_record(uuid, jsonb, text, text) from public, anon;
grant execute on function public.idempotency_lookup(text, text) to authenticated;
grant execute on function public.idempotency_store(text, text, integer, text) to authenticated;
grant execute on function public.create_vehicle(jsonb, text, text) to authenticated, service_role;
grant execute on function public.create_maintenance_record(uuid, jsonb, text, text)
  to authenticated, service_role;
