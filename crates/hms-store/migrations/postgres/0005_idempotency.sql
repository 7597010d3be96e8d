-- Idempotency keys of management-API POSTs (the `Idempotency-Key` header): the first
-- request with a key claims it (`status` NULL, held until `locked_until_ms`), then stores
-- its response, which later requests with the same key and the same fingerprint get back
-- until `expires_at_ms`. Keys are per workspace. The primary key makes one claim win
-- when several nodes receive the same key at once.
CREATE TABLE idempotency_keys (
    workspace_id TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT NOT NULL,
    claim TEXT NOT NULL,
    locked_until_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    status INTEGER,
    content_type TEXT,
    body BYTEA,
    PRIMARY KEY (workspace_id, key)
);

CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at_ms);
