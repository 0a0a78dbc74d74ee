-- Ingest: silences and maintenance windows, why an alert made no task, and the rule
-- "one open task per (host, alertname)" enforced by the database itself.

alter table ccm_alerts add column if not exists suppressed text;
create index if not exists ccm_alerts_fp_received on ccm_alerts (fingerprint, received_at);

create table if not exists ccm_silences (
    id          bigserial primary key,
    matchers    jsonb not null,
    starts_at   timestamptz not null,
    ends_at     timestamptz not null,
    reason      text not null default '',
    created_by  text not null default '',
    created_at  timestamptz not null default now(),
    expired_at  timestamptz,
    constraint ccm_silences_span check (ends_at > starts_at)
);
create index if not exists ccm_silences_ends on ccm_silences (ends_at);

create unique index if not exists ccm_tasks_one_open on ccm_tasks (host, alertname)
    where state in ('new', 'claimed', 'diagnosing', 'awaiting_approval', 'remediating',
                    'verifying');

do $$
begin
    alter table ccm_silences enable row level security;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        drop policy if exists ccm_service_all on ccm_silences;
        create policy ccm_service_all on ccm_silences for all to service_role
            using (true) with check (true);
        grant all on ccm_silences to service_role;
    end if;
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        drop policy if exists ccm_operator_read on ccm_silences;
        create policy ccm_operator_read on ccm_silences for select to authenticated using (true);
        grant select on ccm_silences to authenticated;
    end if;
end
$$;
