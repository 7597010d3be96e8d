//! The bulk loader: writes benchmark rooms straight into a stopped server's SQLite file,
//! 100 000 rows per transaction, generated inside SQLite by one statement each, so that a
//! million rooms take seconds instead of the minutes the API would need.
//!
//! Loaded rooms copy the workspace, template, region and options of a room created through
//! the API beforehand; their ids are `65000000be0c000000` followed by their index in six hex
//! digits (ObjectId-shaped, dated September 2023, so API-made rooms sort after them), their
//! names `bench-load-<index>`.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

const ID_PREFIX: &str = "65000000be0c000000";
const CREATED_AT_MS: i64 = 0x6500_0000 * 1000;
const ROWS_PER_TRANSACTION: u64 = 100_000;
/// Six hex digits of index.
pub const MAX_ROOMS: u64 = 1 << 24;

/// The room the loaded rooms copy (the first one made through the API), and how many
/// loaded rooms there are already (their ids are `ID_PREFIX` and six hex digits).
const MODEL_ROOM: &str = "SELECT workspace_id, template_id, region, options, \
     (SELECT COUNT(*) FROM rooms WHERE id BETWEEN '65000000be0c000000000000' AND '65000000be0c000000ffffff') \
     FROM rooms WHERE id NOT LIKE '65000000be0c000000%' ORDER BY id LIMIT 1";
const NO_MODEL_ROOM: &str = "create one room through the API first: loaded rooms copy its workspace and template";
/// A model room's workspace, template, region and options, and the count of loaded rooms.
type ModelRoom = (String, String, String, String, i64);

fn db(error: sqlx::Error) -> String {
    format!("database: {error}")
}

/// The model room and the count of loaded rooms, read the same way from either store.
async fn model_room<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Result<ModelRoom, String>
where
    ModelRoom: for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let model = sqlx::query_as(MODEL_ROOM).fetch_optional(pool).await.map_err(db)?;
    model.ok_or_else(|| NO_MODEL_ROOM.to_owned())
}

/// The id of loaded room number `index`.
pub fn room_id(index: u64) -> String {
    format!("{ID_PREFIX}{index:06x}")
}

pub struct Loaded {
    pub added: u64,
    pub took: Duration,
}

/// Makes the data dir's store hold loaded rooms `0..count` (adding those missing). The
/// server must be stopped, and must have created at least one room through the API.
pub async fn load_rooms(data_dir: &Path, count: u64) -> Result<Loaded, String> {
    if count > MAX_ROOMS {
        return Err(format!("at most {MAX_ROOMS} rooms"));
    }
    let started = Instant::now();
    let options = SqliteConnectOptions::new()
        .filename(data_dir.join("openhms.db"))
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(db)?;
    let (workspace_id, template_id, region, room_options, existing) = model_room(&pool).await?;
    let mut next = existing as u64;
    while next < count {
        let end = (next + ROWS_PER_TRANSACTION).min(count);
        let mut tx = pool.begin().await.map_err(db)?;
        sqlx::query(
            "WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?2) \
             INSERT INTO rooms (id, workspace_id, name, name_key, enabled, description, template_id, region, \
             large_room, options, created_at, updated_at) \
             SELECT printf('65000000be0c000000%06x', i), ?3, 'bench-load-' || i, 'bench-load-' || i, 1, '', ?4, ?5, \
             0, ?6, ?7 + i, ?7 + i FROM seq",
        )
        .bind(next as i64)
        .bind(end as i64)
        .bind(&workspace_id)
        .bind(&template_id)
        .bind(&region)
        .bind(&room_options)
        .bind(CREATED_AT_MS)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        next = end;
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .map_err(db)?;
    pool.close().await;
    // The load ran without syncs; left to the kernel, its hundreds of megabytes would be
    // written back during the next measured steps and show as their "other CPU". Flushing
    // them here keeps that cost in the load, where it belongs.
    let file = std::fs::File::open(data_dir.join("openhms.db")).map_err(|e| format!("database file: {e}"))?;
    file.sync_all()
        .map_err(|e| format!("flushing the database file: {e}"))?;
    Ok(Loaded {
        added: count.saturating_sub(existing as u64),
        took: started.elapsed(),
    })
}

/// [`load_rooms`] for a PostgreSQL store: one `INSERT … SELECT FROM generate_series` per
/// 100 000 rooms. The servers on it may be running; each reads them on its next request.
pub async fn load_rooms_postgres(database_url: &str, count: u64) -> Result<Loaded, String> {
    if count > MAX_ROOMS {
        return Err(format!("at most {MAX_ROOMS} rooms"));
    }
    let started = Instant::now();
    // One connection at a time: the batches run one after the other.
    let pool = sqlx::PgPool::connect(database_url).await.map_err(db)?;
    let (workspace_id, template_id, region, room_options, existing) = model_room(&pool).await?;
    let mut next = existing as u64;
    while next < count {
        let end = (next + ROWS_PER_TRANSACTION).min(count);
        sqlx::query(
            "INSERT INTO rooms (id, workspace_id, name, name_key, enabled, description, template_id, region, \
             large_room, options, created_at, updated_at) \
             SELECT $1 || lpad(to_hex(i), 6, '0'), $2, 'bench-load-' || i, 'bench-load-' || i, TRUE, '', $3, $4, \
             FALSE, $5, $6 + i, $6 + i FROM generate_series($7::bigint, $8::bigint - 1) AS i",
        )
        .bind(ID_PREFIX)
        .bind(&workspace_id)
        .bind(&template_id)
        .bind(&region)
        .bind(&room_options)
        .bind(CREATED_AT_MS)
        .bind(next as i64)
        .bind(end as i64)
        .execute(&pool)
        .await
        .map_err(db)?;
        next = end;
    }
    // Fresh statistics, as autovacuum would make them a while later: the planner's choice
    // for a list must not depend on when it last ran.
    sqlx::query("ANALYZE rooms").execute(&pool).await.map_err(db)?;
    pool.close().await;
    Ok(Loaded {
        added: count.saturating_sub(existing as u64),
        took: started.elapsed(),
    })
}
