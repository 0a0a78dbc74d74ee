-- CCM hub schema (PostgreSQL / Supabase). Applied by `ccm db migrate`; idempotent.
-- Every table is prefixed ccm_ so a shared database stays tidy.
-- Realtime: triggers append to ccm_changes and NOTIFY 'ccm_changes' with ids only.

create table if not exists ccm_hosts (
    name        text primary key,
    address     text not null default '',
    port        integer not null default 22,
    ssh_user    text not null default '',
    groups      jsonb not null default '[]',
    labels      jsonb not null default '{}',
    managed     boolean not null default true,
    updated_at  timestamptz not null default now()
);

create table if not exists ccm_health (
    id          bigserial primary key,
    host        text not null,
    taken_at    timestamptz not null,
    reachable   boolean not null default true,
    cpu_pct     double precision,
    mem_pct     double precision,
    disk_pct    double precision,
    load1       double precision,
    data        jsonb not null default '{}'
);
create index if not exists ccm_health_host_time on ccm_health (host, taken_at desc);

create table if not exists ccm_tasks (
    id                text primary key,
    host              text not null,
    alertname         text not null,
    state             text not null default 'new',
    severity          text not null default 'warning',
    alert_fingerprint text not null default '',
    summary           text not null default '',
    managed           boolean not null default true,
    runbook           text,
    confidence        double precision,
    risk              text,
    decision          jsonb,
    outcome           text,
    note              text not null default '',
    spec              jsonb not null default '{}',
    result            jsonb not null default '{}',
    lease_owner       text,
    lease_expires_at  timestamptz,
    attempts          integer not null default 0,
    repeat_count      integer not null default 0,
    version           integer not null default 1,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    constraint ccm_tasks_state_ok check (state in ('new','claimed','diagnosing',
        'awaiting_approval','remediating','verifying','resolved','escalated','failed',
        'cancelled','resolved_upstream'))
);
create index if not exists ccm_tasks_state on ccm_tasks (state, created_at);
create index if not exists ccm_tasks_host on ccm_tasks (host, alertname, state);
create index if not exists ccm_tasks_created on ccm_tasks (created_at desc);

create table if not exists ccm_alerts (
    id            bigserial primary key,
    fingerprint   text not null,
    status        text not null,
    source        text not null,
    alertname     text not null,
    host          text not null,
    severity      text not null default 'warning',
    labels        jsonb not null default '{}',
    annotations   jsonb not null default '{}',
    starts_at     timestamptz not null,
    ends_at       timestamptz,
    received_at   timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    seen_count    integer not null default 1,
    task_id       text references ccm_tasks (id) on delete set null,
    constraint ccm_alerts_once unique (fingerprint, status, starts_at)
);
create index if not exists ccm_alerts_received on ccm_alerts (received_at desc);
create index if not exists ccm_alerts_host on ccm_alerts (host, alertname);

create table if not exists ccm_events (
    task_id  text not null references ccm_tasks (id) on delete cascade,
    seq      integer not null check (seq >= 1),
    type     text not null,
    ts       timestamptz not null,
    data     jsonb not null default '{}',
    primary key (task_id, seq)
);

create table if not exists ccm_approvals (
    id          bigserial primary key,
    task_id     text not null references ccm_tasks (id) on delete cascade,
    kind        text not null check (kind in ('approve', 'reject', 'escalate')),
    actor       text not null,
    note        text not null default '',
    created_at  timestamptz not null default now(),
    relayed_at  timestamptz
);
create index if not exists ccm_approvals_task on ccm_approvals (task_id, id);

create table if not exists ccm_audit_log (
    id      bigserial primary key,
    ts      timestamptz not null default now(),
    actor   text not null,
    action  text not null,
    target  text not null default '',
    detail  jsonb not null default '{}'
);
create index if not exists ccm_audit_ts on ccm_audit_log (ts desc);

create table if not exists ccm_runbook_stats (
    runbook     text not null,
    host_group  text not null,
    successes   integer not null default 0,
    failures    integer not null default 0,
    approvals   integer not null default 0,
    rejections  integer not null default 0,
    mode        text,
    updated_at  timestamptz not null default now(),
    primary key (runbook, host_group)
);

create table if not exists ccm_outbox (
    id               bigserial primary key,
    channel          text not null,
    dedup_key        text not null unique,
    payload          jsonb not null,
    state            text not null default 'pending' check (state in ('pending','sent','dead')),
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    last_error       text not null default '',
    created_at       timestamptz not null default now(),
    sent_at          timestamptz,
    lease_owner      text,
    lease_expires_at timestamptz
);
create index if not exists ccm_outbox_due on ccm_outbox (state, next_attempt_at);

create table if not exists ccm_control (
    key         text primary key,
    paused      boolean not null default false,
    actor       text not null default '',
    reason      text not null default '',
    updated_at  timestamptz not null default now()
);
insert into ccm_control (key) values ('fleet') on conflict do nothing;

create table if not exists ccm_changes (
    id          bigserial primary key,
    kind        text not null,
    task_id     text,
    ref         text,
    created_at  timestamptz not null default now()
);

-- Realtime: one row in ccm_changes and one NOTIFY (ids only, far below 8000 bytes)
-- per change, whoever made it (a daemon, the CLI, or an operator through PostgREST).
create or replace function ccm_record_change() returns trigger
language plpgsql security definer set search_path = public as $$
declare
    change_id bigint;
    v_kind text := tg_argv[0];
    v_task text;
    v_ref text;
begin
    if v_kind = 'event' then
        v_task := new.task_id; v_ref := new.seq::text;
    elsif v_kind = 'task' then
        v_task := new.id; v_ref := new.state;
        if tg_op = 'UPDATE' and new.state = old.state and new.version = old.version then
            return new;
        end if;
    elsif v_kind = 'approval' then
        v_task := new.task_id; v_ref := new.id::text;
    elsif v_kind = 'host' then
        v_ref := new.name;
    elsif v_kind = 'health' then
        v_kind := 'host'; v_ref := new.host;
    elsif v_kind = 'alert' then
        v_task := new.task_id; v_ref := new.id::text;
    elsif v_kind = 'outbox' then
        v_ref := new.id::text;
    else
        v_ref := new.key;
    end if;
    insert into ccm_changes (kind, task_id, ref) values (v_kind, v_task, v_ref)
        returning id into change_id;
    perform pg_notify('ccm_changes', json_build_object(
        'id', change_id, 'k', v_kind, 't', v_task, 'r', v_ref)::text);
    return new;
end;
$$;

drop trigger if exists ccm_events_change on ccm_events;
create trigger ccm_events_change after insert on ccm_events
    for each row execute function ccm_record_change('event');
drop trigger if exists ccm_tasks_change on ccm_tasks;
create trigger ccm_tasks_change after insert or update on ccm_tasks
    for each row execute function ccm_record_change('task');
drop trigger if exists ccm_approvals_change on ccm_approvals;
create trigger ccm_approvals_change after insert on ccm_approvals
    for each row execute function ccm_record_change('approval');
drop trigger if exists ccm_hosts_change on ccm_hosts;
create trigger ccm_hosts_change after insert or update on ccm_hosts
    for each row execute function ccm_record_change('host');
drop trigger if exists ccm_health_change on ccm_health;
create trigger ccm_health_change after insert on ccm_health
    for each row execute function ccm_record_change('health');
drop trigger if exists ccm_alerts_change on ccm_alerts;
create trigger ccm_alerts_change after insert on ccm_alerts
    for each row execute function ccm_record_change('alert');
drop trigger if exists ccm_outbox_change on ccm_outbox;
create trigger ccm_outbox_change after insert on ccm_outbox
    for each row execute function ccm_record_change('outbox');
drop trigger if exists ccm_control_change on ccm_control;
create trigger ccm_control_change after update on ccm_control
    for each row execute function ccm_record_change('control');

-- Row-level security. The service role (daemons, webhook, CLI with the service key
-- or the table owner's connection string) writes everything; authenticated operators
-- read everything and may record approvals in their own name; anon sees nothing.
do $$
declare
    t text;
begin
    foreach t in array array['ccm_hosts','ccm_health','ccm_tasks','ccm_alerts','ccm_events',
        'ccm_approvals','ccm_audit_log','ccm_runbook_stats','ccm_outbox','ccm_control','ccm_changes']
    loop
        execute format('alter table %I enable row level security', t);
        if exists (select 1 from pg_roles where rolname = 'service_role') then
            execute format('drop policy if exists ccm_service_all on %I', t);
            execute format('create policy ccm_service_all on %I for all to service_role '
                           'using (true) with check (true)', t);
            execute format('grant all on %I to service_role', t);
        end if;
        if exists (select 1 from pg_roles where rolname = 'authenticated') then
            execute format('drop policy if exists ccm_operator_read on %I', t);
            execute format('create policy ccm_operator_read on %I for select to authenticated '
                           'using (true)', t);
            execute format('grant select on %I to authenticated', t);
        end if;
    end loop;
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        drop policy if exists ccm_operator_decide on ccm_approvals;
        create policy ccm_operator_decide on ccm_approvals for insert to authenticated
            with check (
                actor = coalesce(
                    nullif(current_setting('request.jwt.claims', true), '')::json ->> 'email',
                    nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub')
                and relayed_at is null
                and exists (select 1 from ccm_tasks t where t.id = task_id
                            and t.state not in ('resolved','escalated','failed','cancelled',
                                                'resolved_upstream')));
        grant insert on ccm_approvals to authenticated;
        grant usage on sequence ccm_approvals_id_seq to authenticated;
    end if;
end
$$;

-- Supabase Realtime streams these tables when the project has the publication.
do $$
declare
    t text;
begin
    if exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
        foreach t in array array['ccm_tasks','ccm_events','ccm_approvals','ccm_hosts','ccm_control']
        loop
            if not exists (select 1 from pg_publication_tables
                           where pubname = 'supabase_realtime' and tablename = t) then
                execute format('alter publication supabase_realtime add table %I', t);
            end if;
        end loop;
    end if;
end
$$;
