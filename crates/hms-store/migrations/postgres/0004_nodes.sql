-- Live state shared by several server processes (nodes): every change of a session
-- checks and moves its revision, a room has at most one open session, and each peer
-- belongs to the node it joined through.

ALTER TABLE sessions ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX sessions_one_open_per_room ON sessions (room_id) WHERE active;

ALTER TABLE session_peers ADD COLUMN node_id TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE session_peers ADD COLUMN tracks TEXT NOT NULL DEFAULT '[]';

CREATE TABLE nodes (
    id TEXT COLLATE "C" PRIMARY KEY,
    heartbeat_ns BIGINT NOT NULL
);

-- What each peer received (messages, removals, changes of its role...), for the
-- simulator to show. Ids grow in the order the room's changes commit, since changes of
-- one room are serialised by its session's revision.
CREATE TABLE peer_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id TEXT COLLATE "C" NOT NULL,
    peer_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL,
    at_ns BIGINT NOT NULL
);

CREATE INDEX peer_deliveries_by_peer ON peer_deliveries (peer_id, id);
