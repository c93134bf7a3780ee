-- Run once by tusk, as the database owner, right after `analytics` is created.
CREATE TABLE IF NOT EXISTS events (
    id         bigserial PRIMARY KEY,
    occurred   timestamptz NOT NULL DEFAULT now(),
    kind       text NOT NULL,
    payload    jsonb
);

CREATE INDEX IF NOT EXISTS events_occurred_idx ON events (occurred);
