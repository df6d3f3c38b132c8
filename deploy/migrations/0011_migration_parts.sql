-- A migration manifest larger than one message arrives in parts (manifest.part {index, total,
-- planId}); the plan keeps only counts and which parts arrived, so its size never depends on the
-- number of items.
ALTER TABLE binding.migration_plans
    ADD COLUMN parts_total    integer   NOT NULL DEFAULT 1,
    ADD COLUMN parts_received integer[] NOT NULL DEFAULT '{0}',
    ADD COLUMN state          text      NOT NULL DEFAULT 'planned';   -- collecting | planned
