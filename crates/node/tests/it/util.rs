use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use unseen_node::ops::{self, DatasetInput, PartnerInput, PolicyInput};
use unseen_node::{Node, NodeDir};

pub(crate) struct Fixture {
    pub(crate) _tmp: tempfile::TempDir,
    pub(crate) dir: NodeDir,
    pub(crate) node: Arc<Node>,
}

pub(crate) fn node(name: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = NodeDir::new(tmp.path().join(name));
    let listen: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let api: SocketAddr = "127.0.0.1:2".parse().unwrap();
    unseen_node::init::init(&dir, name, listen, api).unwrap();
    let node = Node::open(&dir).unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        node,
    }
}

impl Fixture {
    /// A data file beside the node directory (never inside it: datasets there are refused).
    pub(crate) fn data(&self, file: &str) -> std::path::PathBuf {
        self._tmp.path().join(file)
    }
}

pub(crate) fn token(dir: &NodeDir) -> String {
    std::fs::read_to_string(dir.token())
        .unwrap()
        .trim()
        .to_owned()
}

/// A CSV of valid ID-card numbers (check digits computed).
pub(crate) fn id_csv(path: &Path, n: usize) {
    let mut s = String::from("id,amount\n");
    for i in 0..n {
        let id = unseen_data::synth::id_card(&format!("11010519800101{:03}", i % 1000)).unwrap();
        s.push_str(&format!("{id},{i}\n"));
    }
    std::fs::write(path, s).unwrap();
}

/// Pins `other`'s certificate on `f` as partner `name` at `address`.
pub(crate) fn add_partner(f: &Fixture, name: &str, other: &NodeDir, address: &str) {
    let mut store = f.node.store();
    let own = f.node.fingerprint();
    ops::add_partner(
        &mut store,
        "test",
        &own,
        &PartnerInput {
            name: name.into(),
            address: address.into(),
            cert_pem: std::fs::read_to_string(other.cert()).unwrap(),
        },
    )
    .unwrap();
}

/// Registers `path` as dataset `name` with key column `id` (by the CLI operator's rules).
pub(crate) fn register(f: &Fixture, name: &str, path: &Path, key_type: &str) {
    register_key(f, name, path, "id", key_type);
}

/// [`register`] with key column `key`.
pub(crate) fn register_key(f: &Fixture, name: &str, path: &Path, key: &str, key_type: &str) {
    let mut store = f.node.store();
    ops::add_dataset(
        &f.dir,
        &mut store,
        "test",
        &DatasetInput {
            name: name.into(),
            path: path.to_path_buf(),
            key: key.into(),
            key_type: key_type.into(),
            encoding: "auto".into(),
            skip_invalid: false,
        },
        ops::DataAccess::Operator,
    )
    .unwrap();
}

/// A rule allowing `job` on `dataset` for `partner`, any receivers.
pub(crate) fn allow(f: &Fixture, dataset: &str, partner: &str, job: &str) {
    allow_to(f, dataset, partner, job, "any");
}

/// [`allow`] with these `receivers` (`any`, `both`, `owner`, `partner`, `none`).
pub(crate) fn allow_to(f: &Fixture, dataset: &str, partner: &str, job: &str, receivers: &str) {
    let mut store = f.node.store();
    ops::allow(
        &mut store,
        "test",
        &PolicyInput {
            dataset: dataset.into(),
            partner: partner.into(),
            job: job.into(),
            receivers: receivers.into(),
        },
    )
    .unwrap();
}
