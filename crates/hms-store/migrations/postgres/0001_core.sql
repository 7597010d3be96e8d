-- The schema of migrations/sqlite in PostgreSQL's own types: booleans are BOOLEAN, times
-- BIGINT (Unix milliseconds here), JSON documents TEXT so that they come back byte for
-- byte as written. Ids and other keys that lists sort or page by are COLLATE "C": SQLite
-- compares text byte by byte, and the database's default collation may not.

CREATE TABLE workspaces (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    access_key TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE app_secrets (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE INDEX app_secrets_by_workspace ON app_secrets (workspace_id);

-- Bumped by every change to workspaces or secrets, so that servers can tell cheaply
-- whether their cache of credentials is stale. Its row lock also orders those changes.
CREATE TABLE credentials_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

INSERT INTO credentials_version (id, version) VALUES (1, 0);

CREATE TABLE templates (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    is_default BOOLEAN NOT NULL,
    role_names TEXT NOT NULL,
    recording_enabled BOOLEAN NOT NULL,
    body TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name_key)
);

CREATE INDEX templates_by_workspace ON templates (workspace_id, id);

CREATE TABLE rooms (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    -- Two servers upserting one name race on this key: the unique index lets one win.
    name_key TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    description TEXT NOT NULL,
    template_id TEXT COLLATE "C" NOT NULL REFERENCES templates (id),
    region TEXT NOT NULL,
    large_room BOOLEAN NOT NULL,
    options TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name_key)
);

CREATE INDEX rooms_by_workspace ON rooms (workspace_id, id);
CREATE INDEX rooms_by_workspace_enabled ON rooms (workspace_id, enabled, id);

CREATE TABLE room_codes (
    code TEXT COLLATE "C" PRIMARY KEY,
    room_id TEXT COLLATE "C" NOT NULL REFERENCES rooms (id),
    role TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (room_id, seq)
);
