-- Webhook endpoints, and the durable delivery queue worked from the event log.

CREATE TABLE workspace_webhooks (
    workspace_id TEXT COLLATE "C" PRIMARY KEY REFERENCES workspaces (id),
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    signing_secret TEXT
);

-- The events not yet turned into deliveries. SQLite's planner keeps a cursor on events.seq,
-- which is safe there because one writer commits events in seq order; here an event with a
-- lower seq can commit after the cursor passed it. So every event is queued here in the
-- transaction that logs it, and leaves the queue in the transaction that plans it.
CREATE TABLE webhook_unplanned (
    seq BIGINT PRIMARY KEY REFERENCES events (seq)
);

-- One row per event and endpoint (and per replay of it). Rows of one lane — an endpoint,
-- a room, and the replay they belong to if any — are sent in id order, one at a time; the
-- lease marks a row being sent, so that a crashed sender's rows are picked up again once
-- their lease runs out.
CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq BIGINT NOT NULL REFERENCES events (seq),
    workspace_id TEXT COLLATE "C" NOT NULL,
    room_id TEXT COLLATE "C" NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    replay_id TEXT COLLATE "C",
    lane TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_ns BIGINT NOT NULL,
    lease_until_ns BIGINT NOT NULL,
    deadline_ns BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    created_ns BIGINT NOT NULL,
    finished_ns BIGINT
);

CREATE INDEX webhook_deliveries_lane ON webhook_deliveries (lane, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ns) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_history ON webhook_deliveries (workspace_id, created_ns);
CREATE INDEX webhook_deliveries_replay ON webhook_deliveries (replay_id);

CREATE TABLE webhook_replays (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    -- The request as sent, which identifies a replay while it runs.
    request_key TEXT NOT NULL,
    -- The filters as the API echoes them, defaults filled in.
    filters TEXT NOT NULL,
    started_ns BIGINT NOT NULL
);
