-- 0002_activation_outbox.sql - what the activation lifecycle adds to the
-- schema: the callback outbox and the index of the expiry sweep.

-- Callback deliveries waiting to be sent: one row per (state change,
-- callback URL of the application), written in the same transaction as the
-- change and deleted by the delivery thread once the receiver answered 2xx
-- or the attempts or age ran out.  event_id is the UUID of the state
-- change; the Idempotency-Key header is event_id and callback_id together,
-- so it is stable across retries and restarts.  The URL itself is read
-- from pa_application_callback at delivery time.
CREATE TABLE pa_callback_outbox (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id               TEXT    NOT NULL,
    activation_id          TEXT    NOT NULL,
    callback_id            TEXT    NOT NULL,
    attempts               INTEGER NOT NULL DEFAULT 0,
    timestamp_created      INTEGER NOT NULL,
    timestamp_next_attempt INTEGER NOT NULL
);
CREATE INDEX pa_callback_outbox_due ON pa_callback_outbox (timestamp_next_attempt, id);

-- The expiry sweep: unfinished activations (CREATED 1, PENDING_COMMIT 2)
-- by deadline, found without scanning the table and already in the order
-- the sweep takes them.  Partial, so it holds only the few unfinished rows
-- and no other query can use it: an index led by activation_status looks
-- as selective to SQLite's planner (no ANALYZE statistics) as the code or
-- user index, and made the code search of PrepareActivation and
-- LookupActivations with a status filter walk every row of that status.
-- The sweep's query repeats this condition literally, since a partial
-- index serves only a WHERE that implies it (a bound parameter does not).
CREATE INDEX pa_activation_unfinished
    ON pa_activation (timestamp_activation_expire, activation_id)
    WHERE activation_status IN (1, 2);
