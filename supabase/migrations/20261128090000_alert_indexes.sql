-- Alert indexes for the paths that run per webhook request.
-- (host, alertname) was never queried: one index less to write per alert. The alerts
-- of a task are read whenever one of them resolves, which scanned the whole table.
drop index if exists ccm_alerts_host;
create index if not exists ccm_alerts_task on ccm_alerts (task_id) where task_id is not null;
