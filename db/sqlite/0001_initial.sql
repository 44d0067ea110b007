-- 0001_initial.sql - the complete paserver schema for SQLite.
--
-- Every table the PowerAuth 0.24 contract needs (shared/contract/DATABASE.md
-- section 2).  Table and column names follow the original so that a database
-- written by it can be imported row by row; the values keep its formats and
-- numeric codes (sections 3 and 4):
--   * status / mode columns hold the original's numbers (activation status
--     1..5, OTP validation 0..2, encryption mode 0/1, recovery code status
--     1..4, PUK status 1..3); no CHECK limits them, because the contract
--     says how an unknown number reads, so such rows must be storable;
--   * booleans are 0/1 integers;
--   * times are INTEGER milliseconds since the epoch, UTC (the original's
--     DATETIME/TIMESTAMP columns convert to this on import);
--   * Base64 keys, Argon2 MCF strings and record-encrypted values are TEXT,
--     stored verbatim.
-- Numeric ids are INTEGER PRIMARY KEY AUTOINCREMENT: positive, unique and
-- growing, never reused after a delete (wire-visible, section 6).  UUID ids
-- are TEXT primary keys.  Text comparisons are exact (BINARY collation), as
-- in the original's PostgreSQL scripts.
--
-- Applied once, inside a transaction, by the migration runner
-- (src/store/sqlite_migrate.c), which records it in schema_version.

-- One per application; the name is unique (since 0.23.0).
CREATE TABLE pa_application (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT    NOT NULL
);
CREATE UNIQUE INDEX pa_application_name ON pa_application (name);

-- Application key/secret pairs ("versions").  Key and secret are Base64 of
-- 16 random bytes, the secret in clear; supported 1 = usable.
CREATE TABLE pa_application_version (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id     INTEGER NOT NULL REFERENCES pa_application (id),
    name               TEXT,
    application_key    TEXT,
    application_secret TEXT,
    supported          INTEGER
);
CREATE UNIQUE INDEX pa_app_version_app_key ON pa_application_version (application_key);
CREATE INDEX pa_app_version_app ON pa_application_version (application_id);

-- Master key pairs; an application's "latest" pair has the greatest
-- timestamp_created (ties: greatest id), hence the index order.
CREATE TABLE pa_master_keypair (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id            INTEGER NOT NULL REFERENCES pa_application (id),
    name                      TEXT,
    master_key_private_base64 TEXT    NOT NULL,
    master_key_public_base64  TEXT    NOT NULL,
    timestamp_created         INTEGER NOT NULL
        DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
);
CREATE INDEX pa_master_keypair_app_created
    ON pa_master_keypair (application_id, timestamp_created, id);

-- Activations.  `version` stays NULL until the key exchange (the original's
-- column default of 2 never applies, so none is declared here).
CREATE TABLE pa_activation (
    activation_id                  TEXT    PRIMARY KEY NOT NULL,
    application_id                 INTEGER NOT NULL REFERENCES pa_application (id),
    user_id                        TEXT    NOT NULL,
    activation_name                TEXT,
    activation_code                TEXT,
    activation_status              INTEGER NOT NULL,
    activation_otp                 TEXT,
    activation_otp_validation      INTEGER NOT NULL DEFAULT 0,
    blocked_reason                 TEXT,
    counter                        INTEGER NOT NULL DEFAULT 0,
    ctr_data                       TEXT,
    device_public_key_base64       TEXT,
    extras                         TEXT,
    platform                       TEXT,
    device_info                    TEXT,
    failed_attempts                INTEGER NOT NULL DEFAULT 0,
    max_failed_attempts            INTEGER NOT NULL DEFAULT 5,
    server_private_key_base64      TEXT    NOT NULL,
    server_private_key_encryption  INTEGER NOT NULL DEFAULT 0,
    server_public_key_base64       TEXT    NOT NULL,
    master_keypair_id              INTEGER REFERENCES pa_master_keypair (id),
    timestamp_created              INTEGER NOT NULL
        DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    timestamp_activation_expire    INTEGER NOT NULL,
    timestamp_last_used            INTEGER NOT NULL,
    timestamp_last_change          INTEGER,
    version                        INTEGER
);
-- Activation code search within an application (codes are not unique; the
-- collision check compares their first 11 characters, a prefix range scan).
CREATE INDEX pa_activation_code ON pa_activation (application_id, activation_code);
-- Activations of a user, optionally within one application.
CREATE INDEX pa_activation_user_id ON pa_activation (user_id, application_id);
CREATE INDEX pa_activation_master_keypair ON pa_activation (master_keypair_id);

-- One row per logged save of an activation.
CREATE TABLE pa_activation_history (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    activation_id     TEXT    NOT NULL REFERENCES pa_activation (activation_id),
    activation_status INTEGER NOT NULL,
    event_reason      TEXT,
    external_user_id  TEXT,
    timestamp_created INTEGER NOT NULL
        DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
);
CREATE INDEX pa_activation_history_activation
    ON pa_activation_history (activation_id, timestamp_created);
CREATE INDEX pa_activation_history_created ON pa_activation_history (timestamp_created);

-- One row per signature verification attempt that found the activation.
CREATE TABLE pa_signature_audit (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    activation_id       TEXT    NOT NULL REFERENCES pa_activation (activation_id),
    activation_counter  INTEGER NOT NULL,
    activation_ctr_data TEXT,
    activation_status   INTEGER NOT NULL,
    additional_info     TEXT,
    data_base64         TEXT,
    signature_type      TEXT    NOT NULL,
    signature           TEXT    NOT NULL,
    valid               INTEGER NOT NULL DEFAULT 0,
    note                TEXT    NOT NULL,
    timestamp_created   INTEGER NOT NULL
        DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    version             INTEGER,
    signature_version   TEXT
);
CREATE INDEX pa_signature_audit_activation
    ON pa_signature_audit (activation_id, timestamp_created);
CREATE INDEX pa_signature_audit_created ON pa_signature_audit (timestamp_created);

-- MAC tokens; looked up by token_id (the primary key).
CREATE TABLE pa_token (
    token_id          TEXT    PRIMARY KEY NOT NULL,
    token_secret      TEXT    NOT NULL,
    activation_id     TEXT    NOT NULL REFERENCES pa_activation (activation_id),
    signature_type    TEXT    NOT NULL,
    timestamp_created INTEGER NOT NULL
        DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
);
CREATE INDEX pa_token_activation ON pa_token (activation_id);

-- Integration credentials (WS-Security UsernameToken / HTTP Basic).
CREATE TABLE pa_integration (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT,
    client_token  TEXT NOT NULL,
    client_secret TEXT NOT NULL
);
CREATE UNIQUE INDEX pa_integration_token ON pa_integration (client_token);

-- Callback URLs of an application, listed by name.
CREATE TABLE pa_application_callback (
    id             TEXT    PRIMARY KEY NOT NULL,
    application_id INTEGER NOT NULL REFERENCES pa_application (id),
    name           TEXT,
    callback_url   TEXT    NOT NULL
);
CREATE INDEX pa_app_callback_app ON pa_application_callback (application_id, name);

-- Recovery codes, in clear; activation_id NULL = postcard code.
CREATE TABLE pa_recovery_code (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    recovery_code         TEXT    NOT NULL,
    application_id        INTEGER NOT NULL REFERENCES pa_application (id),
    user_id               TEXT    NOT NULL,
    activation_id         TEXT    REFERENCES pa_activation (activation_id),
    status                INTEGER NOT NULL,
    failed_attempts       INTEGER NOT NULL DEFAULT 0,
    max_failed_attempts   INTEGER NOT NULL DEFAULT 10,
    timestamp_created     INTEGER NOT NULL
        DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    timestamp_last_used   INTEGER,
    timestamp_last_change INTEGER
);
-- Not unique: the same code may exist in two applications.
CREATE INDEX pa_recovery_code_code ON pa_recovery_code (application_id, recovery_code);
CREATE INDEX pa_recovery_code_user ON pa_recovery_code (user_id, application_id);
CREATE INDEX pa_recovery_code_activation ON pa_recovery_code (activation_id);

-- PUKs of a recovery code: Argon2 MCF string, plain or record-encrypted.
CREATE TABLE pa_recovery_puk (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    recovery_code_id      INTEGER NOT NULL REFERENCES pa_recovery_code (id),
    puk                   TEXT    NOT NULL,
    puk_encryption        INTEGER NOT NULL DEFAULT 0,
    puk_index             INTEGER NOT NULL,
    status                INTEGER NOT NULL,
    timestamp_last_change INTEGER
);
CREATE UNIQUE INDEX pa_recovery_code_puk ON pa_recovery_puk (recovery_code_id, puk_index);

-- Recovery settings of an application.  One row per application: the
-- original creates rows lazily and only Oracle enforces this; the unique
-- index here stops two concurrent first reads from creating two rows.
CREATE TABLE pa_recovery_config (
    id                            INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id                INTEGER NOT NULL REFERENCES pa_application (id),
    activation_recovery_enabled   INTEGER NOT NULL DEFAULT 0,
    recovery_postcard_enabled     INTEGER NOT NULL DEFAULT 0,
    allow_multiple_recovery_codes INTEGER NOT NULL DEFAULT 0,
    postcard_private_key_base64   TEXT,
    postcard_public_key_base64    TEXT,
    remote_public_key_base64      TEXT
);
CREATE UNIQUE INDEX pa_recovery_config_app ON pa_recovery_config (application_id);
