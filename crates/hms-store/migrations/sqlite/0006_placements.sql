-- Where the real peers of each room are served: on one node at a time, the one /init
-- sends their clients to, reached at its public URL. A node that is gone loses its
-- placements to the next node a client asks.
CREATE TABLE room_placements (
    room_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    url TEXT NOT NULL
);

-- A room's deliveries in commit order, which the node serving its real peers follows.
CREATE INDEX peer_deliveries_by_room ON peer_deliveries (room_id, id);
