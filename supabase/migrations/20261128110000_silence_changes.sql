-- Silences and maintenance windows reach the realtime feed: a daemon holds the
-- automatic fixes they cover as soon as one is added, and the TUI redraws at once.
-- Same wire format as every change: one ccm_changes row and a NOTIFY with ids only.
create or replace function ccm_record_silence_change() returns trigger
language plpgsql security definer set search_path = public as $$
declare
    change_id bigint;
begin
    insert into ccm_changes (kind, task_id, ref) values ('silence', null, new.id::text)
        returning id into change_id;
    perform pg_notify('ccm_changes', json_build_object(
        'id', change_id, 'k', 'silence', 't', null, 'r', new.id::text)::text);
    return new;
end;
$$;

drop trigger if exists ccm_silences_change on ccm_silences;
create trigger ccm_silences_change after insert or update on ccm_silences
    for each row execute function ccm_record_silence_change();
