-- The purge at deregistration also removes the runtime's copies of the account's data (issue 17):
-- kept replies in the inbox and rows in the outbox are filed under the account they concern, so
-- each service's purge transaction finds them by index instead of reading every row.
--   inbox.account_id:  the account a kept reply concerns (the handler's, the reply's accountId, or
--                      the subject of the events the command emitted); null for event ids and for
--                      replies that concern no account
--   outbox.account_id: the same for replies and notifications; an event's subject for events
-- Partial indexes: only the filed rows are indexed. Plain CREATE INDEX (migrations run in a
-- transaction) blocks writes to a large existing table while it builds: create the indexes
-- CONCURRENTLY by hand first in that case (IF NOT EXISTS then skips them). ADD COLUMN without a
-- default does not rewrite the table.
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['identity', 'permissions', 'binding', 'deregistration'] LOOP
    EXECUTE format($f$
      ALTER TABLE %1$I.inbox ADD COLUMN IF NOT EXISTS account_id uuid;
      ALTER TABLE %1$I.outbox ADD COLUMN IF NOT EXISTS account_id uuid;
      CREATE INDEX IF NOT EXISTS inbox_account ON %1$I.inbox (account_id) WHERE account_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS outbox_account ON %1$I.outbox (account_id) WHERE account_id IS NOT NULL;
    $f$, s);
  END LOOP;
END
$$;
