-- Webhook endpoints, and the durable delivery queue worked from the event log.

CREATE TABLE workspace_webhooks (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id),
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    signing_secret TEXT
);

-- How far the planner has turned events into deliveries.
CREATE TABLE webhook_planner (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL
);

INSERT INTO webhook_planner (id, last_seq) VALUES (1, 0);

-- One row per event and endpoint (and per replay of it). Rows of one lane — an endpoint,
-- a room, and the replay they belong to if any — are sent in id order, one at a time; the
-- lease marks a row being sent, so that a crashed sender's rows are picked up again once
-- their lease runs out.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq BIGINT NOT NULL REFERENCES events (seq),
    workspace_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    replay_id TEXT,
    lane TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ns BIGINT NOT NULL,
    lease_until_ns BIGINT NOT NULL,
    deadline_ns BIGINT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_ns BIGINT NOT NULL,
    finished_ns BIGINT
);

CREATE INDEX webhook_deliveries_lane ON webhook_deliveries (lane, state, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_ns);
CREATE INDEX webhook_deliveries_history ON webhook_deliveries (workspace_id, created_ns);
CREATE INDEX webhook_deliveries_replay ON webhook_deliveries (replay_id);

CREATE TABLE webhook_replays (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    -- The request as sent, which identifies a replay while it runs.
    request_key TEXT NOT NULL,
    -- The filters as the API echoes them, defaults filled in.
    filters TEXT NOT NULL,
    started_ns BIGINT NOT NULL
);
