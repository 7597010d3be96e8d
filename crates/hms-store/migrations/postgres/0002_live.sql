-- Sessions and the event log. Times of live state are Unix nanoseconds: the active-room
-- API and webhook payloads show them at that precision.

CREATE TABLE sessions (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    room_id TEXT COLLATE "C" NOT NULL REFERENCES rooms (id),
    active BOOLEAN NOT NULL,
    started_ns BIGINT NOT NULL,
    updated_ns BIGINT NOT NULL
);

CREATE INDEX sessions_by_workspace ON sessions (workspace_id, id);
CREATE INDEX sessions_by_room ON sessions (room_id, id);
CREATE INDEX sessions_open ON sessions (id) WHERE active;

CREATE TABLE session_peers (
    id TEXT COLLATE "C" PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    user_id TEXT NOT NULL,
    metadata TEXT NOT NULL,
    -- What the peer is now (the API shows the join values; recovery needs these).
    current_name TEXT NOT NULL,
    -- Quoted: CURRENT_ROLE is a keyword of PostgreSQL.
    "current_role" TEXT NOT NULL,
    current_metadata TEXT NOT NULL,
    joined_ns BIGINT NOT NULL,
    left_ns BIGINT
);

CREATE INDEX session_peers_by_session ON session_peers (session_id, joined_ns);

-- Every webhook event, written in the same transaction as the change it describes. `seq`
-- is taken when the row is inserted, but transactions commit in their own order, so an
-- event may become visible after events with a higher seq: nothing may read this table
-- with a cursor on seq and assume it saw everything below it (see webhook_unplanned).
CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    room_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ns BIGINT NOT NULL
);

CREATE INDEX events_by_workspace ON events (workspace_id, seq);
CREATE INDEX events_by_room ON events (room_id, seq);
