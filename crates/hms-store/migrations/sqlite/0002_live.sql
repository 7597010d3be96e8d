-- Sessions and the event log. Times of live state are Unix nanoseconds: the active-room
-- API and webhook payloads show them at that precision.

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    room_id TEXT NOT NULL REFERENCES rooms (id),
    active INTEGER NOT NULL,
    started_ns BIGINT NOT NULL,
    updated_ns BIGINT NOT NULL
);

CREATE INDEX sessions_by_workspace ON sessions (workspace_id, id);
CREATE INDEX sessions_by_room ON sessions (room_id, id);
CREATE INDEX sessions_open ON sessions (active);

CREATE TABLE session_peers (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    user_id TEXT NOT NULL,
    metadata TEXT NOT NULL,
    -- What the peer is now (the API shows the join values; recovery needs these).
    current_name TEXT NOT NULL,
    current_role TEXT NOT NULL,
    current_metadata TEXT NOT NULL,
    joined_ns BIGINT NOT NULL,
    left_ns BIGINT
);

CREATE INDEX session_peers_by_session ON session_peers (session_id, joined_ns);

-- Every webhook event, in the order it happened (seq), written in the same transaction
-- as the change it describes.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    room_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ns BIGINT NOT NULL
);

CREATE INDEX events_by_workspace ON events (workspace_id, seq);
CREATE INDEX events_by_room ON events (room_id, seq);
