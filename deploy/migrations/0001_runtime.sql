-- The message runtime of each service, in the schema the service owns.
--   inbox:        processed message ids per consumer, written in the same transaction as the effect
--   outbox:       replies, events and notifications, written in the same transaction as the effect,
--                 published in order by the service's relay
--   dead_letters: messages that could not be processed, once per topic/partition/offset and content
--                 digest (offsets alone repeat when a topic is recreated)
CREATE SCHEMA IF NOT EXISTS identity;
CREATE SCHEMA IF NOT EXISTS permissions;
CREATE SCHEMA IF NOT EXISTS binding;
CREATE SCHEMA IF NOT EXISTS deregistration;

DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['identity', 'permissions', 'binding', 'deregistration'] LOOP
    EXECUTE format($f$
      CREATE TABLE %1$I.inbox (
        consumer     text        NOT NULL,
        message_id   text        NOT NULL,
        topic        text        NOT NULL,
        partition    integer     NOT NULL,
        "offset"     bigint      NOT NULL,
        received_at  timestamptz NOT NULL DEFAULT now(),
        reply        text,
        PRIMARY KEY (consumer, message_id)
      );
      CREATE TABLE %1$I.outbox (
        seq          bigserial   PRIMARY KEY,
        message_id   text        NOT NULL,
        topic        text        NOT NULL,
        key          text,
        payload      text        NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        sent_at      timestamptz
      );
      CREATE INDEX outbox_unsent ON %1$I.outbox (seq) WHERE sent_at IS NULL;
      CREATE TABLE %1$I.dead_letters (
        id           bigserial   PRIMARY KEY,
        topic        text        NOT NULL,
        partition    integer     NOT NULL,
        "offset"     bigint      NOT NULL,
        reason       text        NOT NULL,
        field        text,
        message_id   text,
        digest       text        NOT NULL,
        received_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (topic, partition, "offset", digest)
      );
    $f$, s);
  END LOOP;
END
$$;
