//! What the fuzz targets share: the stored documents they run against (`fixtures/`).

use std::sync::LazyLock;

use serde_json::Value;

static USER: LazyLock<Value> = LazyLock::new(|| parse(include_str!("../fixtures/user.json")));
static GROUP: LazyLock<Value> = LazyLock::new(|| parse(include_str!("../fixtures/group.json")));

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("a fixture is JSON")
}

/// A stored user with every kind of attribute the PATCH engine treats differently: simple,
/// complex, multi-valued complex with `primary`, boolean, and the enterprise extension.
pub fn user() -> Value {
    USER.clone()
}

/// A stored group; members live outside the document, so PATCH sees only the rest.
pub fn group() -> Value {
    GROUP.clone()
}
