-- Which daemon can reach which host, refreshed while the daemon runs. A task on a host
-- outside a daemon's inventory becomes that daemon's to escalate only when no daemon
-- that has the host has been seen for the grace period: a daemon busy with other hosts
-- for longer than that no longer loses its waiting tasks to one that cannot run them.
create table if not exists ccm_daemon_hosts (
    host     text not null,
    owner    text not null,
    seen_at  timestamptz not null,
    primary key (host, owner)
);
create index if not exists ccm_daemon_hosts_seen on ccm_daemon_hosts (seen_at);

do $$
begin
    alter table ccm_daemon_hosts enable row level security;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        drop policy if exists ccm_service_all on ccm_daemon_hosts;
        create policy ccm_service_all on ccm_daemon_hosts for all to service_role
            using (true) with check (true);
        grant all on ccm_daemon_hosts to service_role;
    end if;
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        drop policy if exists ccm_operator_read on ccm_daemon_hosts;
        create policy ccm_operator_read on ccm_daemon_hosts for select to authenticated
            using (true);
        grant select on ccm_daemon_hosts to authenticated;
    end if;
end
$$;
