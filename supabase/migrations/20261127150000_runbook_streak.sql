-- Runbook promotion: consecutive successes since the last failure or mode change.
alter table ccm_runbook_stats add column if not exists streak integer not null default 0;
