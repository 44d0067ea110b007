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

-- The expiry sweep: unfinished activations (CREATED, PENDING_COMMIT) past
-- their deadline, found without scanning the table.
CREATE INDEX pa_activation_status_expire
    ON pa_activation (activation_status, timestamp_activation_expire);
