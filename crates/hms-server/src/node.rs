//! This server process as a node of a deployment: who it is, and its hold on its data dir.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

const LOCK_FILE: &str = "node.lock";
const ID_FILE: &str = "node-id";

/// A node's identity is its data dir: a restart with the same data dir is the same node
/// (and knows that the peers of its previous run are gone), and no two processes may
/// share one.
pub struct Node {
    pub id: String,
    _lock: File,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("the data dir {0} is in use by another hms serve process; give each node its own")]
    InUse(String),
    #[error("cannot use the data dir {dir}: {source}")]
    Io { dir: String, source: io::Error },
}

impl Node {
    pub fn claim(data_dir: &Path) -> Result<Self, NodeError> {
        let io_error = |source| NodeError::Io {
            dir: data_dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io_error)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join(LOCK_FILE))
            .map_err(io_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(NodeError::InUse(data_dir.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io_error(source)),
        }
        let id = read_or_make_id(&data_dir.join(ID_FILE)).map_err(io_error)?;
        Ok(Self { id, _lock: lock })
    }
}

fn read_or_make_id(path: &Path) -> io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        Ok(_) => make_id(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => make_id(path),
        Err(error) => Err(error),
    }
}

fn make_id(path: &Path) -> io::Result<String> {
    let id = crate::ids::uuid();
    std::fs::write(path, &id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_dir_is_one_node_at_a_time_and_keeps_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let first = Node::claim(dir.path()).unwrap();
        assert!(matches!(Node::claim(dir.path()), Err(NodeError::InUse(_))));
        let id = first.id.clone();
        drop(first);
        assert_eq!(Node::claim(dir.path()).unwrap().id, id);
    }
}
