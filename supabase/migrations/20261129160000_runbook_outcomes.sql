-- Which task's outcome a runbook's track record already counts. A daemon that takes a
-- task over after a lease loss replays the agent's journal to its end, and finishing
-- the task a second time must not count its success (or failure) twice: a doubled
-- success would promote a runbook to automatic fixes before it had earned it.
create table if not exists ccm_runbook_outcomes (
    task_id      text primary key,
    runbook      text not null,
    host_group   text not null,
    success      boolean not null,
    approved     boolean,
    recorded_at  timestamptz not null
);
create index if not exists ccm_runbook_outcomes_runbook
    on ccm_runbook_outcomes (runbook, host_group, recorded_at);

do $$
begin
    alter table ccm_runbook_outcomes enable row level security;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        drop policy if exists ccm_service_all on ccm_runbook_outcomes;
        create policy ccm_service_all on ccm_runbook_outcomes for all to service_role
            using (true) with check (true);
        grant all on ccm_runbook_outcomes to service_role;
    end if;
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        drop policy if exists ccm_operator_read on ccm_runbook_outcomes;
        create policy ccm_operator_read on ccm_runbook_outcomes for select to authenticated
            using (true);
        grant select on ccm_runbook_outcomes to authenticated;
    end if;
end
$$;
