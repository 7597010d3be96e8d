-- Portable SQL only: booleans and times are integers (times in Unix milliseconds), JSON
-- documents are text, ids are text. The PostgreSQL store applies the same schema.

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    access_key TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE app_secrets (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE INDEX app_secrets_by_workspace ON app_secrets (workspace_id);

-- Bumped by every change to workspaces or secrets, so that servers can tell cheaply
-- whether their cache of credentials is stale.
CREATE TABLE credentials_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

INSERT INTO credentials_version (id, version) VALUES (1, 0);

CREATE TABLE templates (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    is_default INTEGER NOT NULL,
    role_names TEXT NOT NULL,
    recording_enabled INTEGER NOT NULL,
    body TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name_key)
);

CREATE INDEX templates_by_workspace ON templates (workspace_id, id);

CREATE TABLE rooms (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    description TEXT NOT NULL,
    template_id TEXT NOT NULL REFERENCES templates (id),
    region TEXT NOT NULL,
    large_room INTEGER NOT NULL,
    options TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, name_key)
);

CREATE INDEX rooms_by_workspace ON rooms (workspace_id, id);
CREATE INDEX rooms_by_workspace_enabled ON rooms (workspace_id, enabled, id);

CREATE TABLE room_codes (
    code TEXT PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms (id),
    role TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (room_id, seq)
);
