-- Retention of runtime data (issue 17): the indexes the runtime's pruner (RuntimePruner) needs to
-- find rows past their policy windows without scanning a table. Each pruning statement takes at
-- most runtime.pruneBatchSize rows from one of these ranges:
--   inbox:        per topic (commands and events have windows of their own), oldest first
--   outbox:       confirmed rows only (unsent rows are never pruned; outbox_unsent serves the relay)
--   dead_letters: by the time they were recorded
-- Plain CREATE INDEX (migrations run in a transaction): on a large existing table it blocks writes
-- to that table while it builds; run it in a quiet hour, or create the indexes CONCURRENTLY by hand
-- first (the IF NOT EXISTS then skips them).
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['identity', 'permissions', 'binding', 'deregistration'] LOOP
    EXECUTE format($f$
      CREATE INDEX IF NOT EXISTS inbox_received ON %1$I.inbox (topic, received_at);
      CREATE INDEX IF NOT EXISTS outbox_sent ON %1$I.outbox (sent_at) WHERE sent_at IS NOT NULL;
      CREATE INDEX IF NOT EXISTS dead_letters_received ON %1$I.dead_letters (received_at);
    $f$, s);
  END LOOP;
END
$$;
