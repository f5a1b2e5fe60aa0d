-- Who changed what: an append-only log written by triggers, readable by admins.

create table public.audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  actor_id uuid,
  actor_role text not null,
  action text not null,
  table_name text not null,
  record_id text not null,
  changes jsonb not null default '{}'::jsonb,
  constraint audit_log_action_check check (action in ('insert', 'update', 'delete'))
);
comment on table public.audit_log is
  'Changes to vehicles, maintenance records and roles; actor_id is auth.uid() (null for the service role).';

create index audit_log_at_id_idx on public.audit_log (at desc, id desc);
create index audit_log_table_record_idx on public.audit_log (table_name, record_id, at desc, id desc);
create index audit_log_actor_idx on public.audit_log (actor_id, at desc, id desc);

-- Field-level diff: {"field": {"old": …, "new": …}} for the fields that changed.
create or replace function private.audit_changes(old_row jsonb, new_row jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(key, jsonb_build_object('old', old_row -> key, 'new', new_row -> key)), '{}'::jsonb)
  from (
    select key from jsonb_object_keys(coalesce(old_row, '{}'::jsonb) || coalesce(new_row, '{}'::jsonb)) as key
  ) keys
  where (old_row -> key) is distinct from (new_row -> key)
    and key not in ('updated_at', 'version')
$$;

create or replace function private.audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  old_row jsonb := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
  new_row jsonb := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
  row_data jsonb := coalesce(new_row, old_row);
  diff jsonb := private.audit_changes(old_row, new_row);
begin
  if tg_op = 'UPDATE' and diff = '{}'::jsonb then
    return null;
  end if;
  insert into public.audit_log (actor_id, actor_role, action, table_name, record_id, changes)
  values (
    auth.uid(),
    coalesce(auth.jwt() ->> 'role', session_user),
    lower(tg_op),
    tg_table_name,
    coalesce(row_data ->> 'id', row_data ->> 'user_id'),
    diff
  );
  return null;
end;
$$;
revoke execute on function private.audit_changes(jsonb, jsonb) from public, anon, authenticated;
revoke execute on function private.audit() from public, anon, authenticated;

create trigger audit after insert or update or delete on public.vehicles
  for each row execute function private.audit();
create trigger audit after insert or update or delete on public.maintenance_records
  for each row execute function private.audit();
create trigger audit after insert or update or delete on public.user_roles
  for each row execute function private.audit();

alter table public.audit_log enable row level security;

create policy "audit_log: select with audit.read"
  on public.audit_log for select to authenticated
  using ((select private.authorize('audit.read')));
-- Written only by the audit trigger (security definer): no write policies, and
-- no API role keeps a write grant, the service role included (it bypasses RLS).
revoke insert, update, delete, truncate on public.audit_log from anon, authenticated, service_role;
