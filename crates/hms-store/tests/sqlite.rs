//! What only the SQLite store does: the group commit of new rooms (rooms inserted together
//! by one statement must each get the answer they would have got alone), and point reads
//! outside sqlx's pool.

use std::sync::Arc;

use hms_store::{PageRequest, RoomRecord, RoomViewRef, RoomWriter, SqliteStore, Store, StoreError};
use hms_types::Timestamp;
use hms_types::room::RoomFilter;

mod common;

use common::{TEMPLATE, WORKSPACE, new_workspace};

/// A store in a data dir of its own (kept while the `TempDir` is), with one workspace.
async fn store_with_workspace() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(dir.path(), hms_store::Durability::Process)
            .await
            .unwrap(),
    );
    store.create_workspace(&new_workspace()).await.unwrap();
    (dir, store)
}

fn room(id: String, name: &str, template_id: &str) -> RoomRecord {
    common::room_on(&id, name, template_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rooms_created_together_are_answered_one_by_one() {
    let (_dir, store) = store_with_workspace().await;
    // 200 inserts at once: 40 names five times each (in different cases: names are unique
    // without regard to case), and one room whose template does not exist.
    let mut inserts = Vec::new();
    for attempt in 0..5 {
        for name in 0..40 {
            let name = if attempt % 2 == 0 {
                format!("room-{name}")
            } else {
                format!("ROOM-{name}")
            };
            let record = room(format!("{attempt:02}{name:0>22}"), &name, TEMPLATE);
            let store = store.clone();
            inserts.push(tokio::spawn(async move { store.insert_room(&record).await }));
        }
    }
    let orphan = room("orphan".into(), "orphan", "no-such-template");
    let orphan = tokio::spawn({
        let store = store.clone();
        async move { store.insert_room(&orphan).await }
    });

    let mut created = 0;
    for insert in inserts {
        match insert.await.unwrap() {
            Ok(()) => created += 1,
            Err(StoreError::Conflict(what)) => assert_eq!(what, "a room with this name"),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 40, "one room per name");
    assert!(matches!(orphan.await.unwrap(), Err(StoreError::Database(_))));

    let page = hms_store::PageRequest {
        limit: 100,
        start: None,
    };
    let listed = store.rooms(WORKSPACE, &RoomFilter::default(), &page).await.unwrap();
    assert_eq!(listed.len(), 40);
    let mut names: Vec<String> = listed.iter().map(|view| view.room.name.to_lowercase()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 40);
}

/// Point reads (room by id, by name, room code) run on the caller's thread, outside sqlx's
/// pool: each must see every write committed before it, from whichever thread, and they
/// must stop with the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn point_reads_see_every_commit_at_once_and_stop_with_the_store() {
    let (_dir, store) = store_with_workspace().await;
    let mut writers = Vec::new();
    for n in 0..32 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let id = format!("room{n:0>20}");
            let created = room(id.clone(), &format!("Point-{n}"), TEMPLATE);
            assert_eq!(store.room(WORKSPACE, &id).await.unwrap(), None);
            store.insert_room(&created).await.unwrap();
            let by_id = store
                .room(WORKSPACE, &id)
                .await
                .unwrap()
                .expect("read after its insert");
            assert_eq!(by_id.room, created);
            assert_eq!(by_id.template.name, "default");
            let by_name = store.room_by_name(WORKSPACE, &format!("point-{n}")).await.unwrap();
            assert_eq!(by_name.map(|view| view.room.id), Some(id.clone()));
            assert_eq!(store.room("another-workspace", &id).await.unwrap(), None);

            let mut changed = created.clone();
            changed.description = format!("changed {n}");
            changed.updated_at = Timestamp::from_unix_millis(created.updated_at.unix_millis() + 1);
            store.update_room(&changed, created.updated_at).await.unwrap();
            let after = store.room(WORKSPACE, &id).await.unwrap().unwrap();
            assert_eq!(after.room.description, format!("changed {n}"));
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }

    let generator = || "code-1".to_owned();
    let code = store
        .create_room_code(&format!("room{:0>20}", 7), "host", &generator, Timestamp::now())
        .await
        .unwrap();
    let binding = store.room_code(&code.code).await.unwrap().expect("the new code");
    assert_eq!(binding.code, code);
    assert_eq!(binding.workspace_id, WORKSPACE);
    assert!(binding.room_enabled);
    assert_eq!(store.room_code("no-such-code").await.unwrap(), None);

    store.close().await;
    let closed = store.room(WORKSPACE, &format!("room{:0>20}", 7)).await;
    assert!(
        matches!(closed, Err(StoreError::Database(sqlx::Error::PoolClosed))),
        "{closed:?}"
    );
}

/// A page of rooms written from the rows SQLite reads holds what the page of records
/// holds, for every filter and cursor, options and the template's summary included.
#[tokio::test]
async fn rooms_written_from_their_rows_are_the_rooms_read() {
    let (_dir, store) = store_with_workspace().await;
    for n in 0..12 {
        let mut record = room(format!("room{n:0>20}"), &format!("Written-{n}"), TEMPLATE);
        record.enabled = n % 3 != 0;
        record.description = format!("room \"{n}\"\n");
        record.created_at = Timestamp::from_unix_millis(1_700_000_000_000 + n);
        if n % 2 == 0 {
            record.options.size = Some(10 + n as u32);
            record.options.polls = Some(vec![format!("poll-{n}")]);
        }
        store.insert_room(&record).await.unwrap();
    }
    let filters = [
        RoomFilter::default(),
        RoomFilter {
            enabled: Some(true),
            ..RoomFilter::default()
        },
        RoomFilter {
            name: Some("WRITTEN-4".into()),
            ..RoomFilter::default()
        },
        RoomFilter {
            template_id: Some(TEMPLATE.into()),
            after: Some(Timestamp::from_unix_millis(1_700_000_000_003)),
            before: Some(Timestamp::from_unix_millis(1_700_000_000_009)),
            ..RoomFilter::default()
        },
    ];
    let described = |index: usize, room: &RoomViewRef<'_>| format!("{index} {room:?}\n");
    for filter in &filters {
        for start in [None, Some("room00000000000000000008".to_owned())] {
            let page = PageRequest { limit: 5, start };
            let views = store.rooms(WORKSPACE, filter, &page).await.unwrap();
            let expected: String = views
                .iter()
                .enumerate()
                .map(|(index, view)| described(index, &view.borrowed()))
                .collect();
            let writer: RoomWriter = Box::new(move |out, index, room| out.extend(described(index, room).bytes()));
            let written = store
                .write_rooms(WORKSPACE, filter, &page, b"head\n".to_vec(), writer)
                .await
                .unwrap();
            assert_eq!(String::from_utf8(written.out).unwrap(), format!("head\n{expected}"));
            assert_eq!(written.items, views.len());
            let last_id = views.last().map(|view| view.room.id.clone()).unwrap_or_default();
            assert_eq!(written.last_id, last_id, "{filter:?} {page:?}");
        }
    }
}
