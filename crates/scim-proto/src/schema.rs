//! Attribute definitions and the built-in schemas: RFC 7643 §2 (characteristics),
//! §3.1 (common attributes), §4 (User, Group, Enterprise User), §7 and §8.7.1 (representation).

mod defs;

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::path::AttrPath;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Schema URI of a schema representation (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute with its characteristics (RFC 7643 §2.2, §7).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// Case-insensitive (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.ty.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if matches!(self.ty, AttrType::String | AttrType::Reference | AttrType::Binary) {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if self.ty != AttrType::Complex && self.ty != AttrType::Boolean {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if self.ty == AttrType::Reference {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        if self.is_complex() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(AttributeDef::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

/// A schema (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<AttributeDef>,
}

impl Schema {
    /// Case-insensitive lookup. Core schemas also resolve the common attributes `id`,
    /// `externalId` and `meta` (RFC 7643 §3.1), which every resource carries but no schema lists.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        let own = self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name));
        if own.is_some() || !self.is_core() {
            return own;
        }
        common_attributes().iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// A core (resource-defining) schema rather than an extension.
    pub fn is_core(&self) -> bool {
        self.id == USER_SCHEMA || self.id == GROUP_SCHEMA
    }

    /// Attributes in output order: `schemas`, `id`, `externalId` first (RFC 7643 §3.1 examples),
    /// `meta` last.
    pub(crate) fn all_attributes(&self) -> impl Iterator<Item = &AttributeDef> {
        let common: &[AttributeDef] = if self.is_core() { common_attributes() } else { &[] };
        let (head, tail) = common.split_at(common.len().min(3));
        head.iter().chain(self.attributes.iter()).chain(tail.iter())
    }

    /// RFC 7643 §7 representation, without `meta` (the caller knows the location).
    pub fn to_json(&self) -> Value {
        let attrs: Vec<Value> = self.attributes.iter().map(AttributeDef::to_json).collect();
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attrs,
        })
    }
}

static USER: LazyLock<Schema> = LazyLock::new(defs::user);
static ENTERPRISE_USER: LazyLock<Schema> = LazyLock::new(defs::enterprise_user);
static GROUP: LazyLock<Schema> = LazyLock::new(defs::group);
static COMMON: LazyLock<Vec<AttributeDef>> = LazyLock::new(defs::common);

pub fn user_schema() -> &'static Schema {
    &USER
}

pub fn enterprise_user_schema() -> &'static Schema {
    &ENTERPRISE_USER
}

pub fn group_schema() -> &'static Schema {
    &GROUP
}

/// `schemas`, `id`, `externalId`, `meta` (RFC 7643 §3.1), in that order.
pub fn common_attributes() -> &'static [AttributeDef] {
    &COMMON
}

/// Every schema this server knows, for `/Schemas`.
pub fn all_schemas() -> [&'static Schema; 3] {
    [user_schema(), group_schema(), enterprise_user_schema()]
}

/// Case-insensitive: URNs are compared so by clients in practice, and RFC 8141 makes the
/// `urn:` prefix and namespace case-insensitive anyway.
pub fn schema_by_id(uri: &str) -> Option<&'static Schema> {
    all_schemas().into_iter().find(|s| s.id.eq_ignore_ascii_case(uri))
}

/// The resource types of RFC 7643 §4 served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    pub fn core_schema(self) -> &'static Schema {
        match self {
            ResourceKind::User => user_schema(),
            ResourceKind::Group => group_schema(),
        }
    }

    /// Schema extensions of the resource type; none is required (RFC 7643 §6 `schemaExtensions`).
    pub fn extensions(self) -> &'static [&'static Schema] {
        static USER_EXT: LazyLock<[&'static Schema; 1]> = LazyLock::new(|| [enterprise_user_schema()]);
        match self {
            ResourceKind::User => &*USER_EXT,
            ResourceKind::Group => &[],
        }
    }

    /// The extension of this kind whose URI is `uri` (case-insensitive).
    pub fn extension(self, uri: &str) -> Option<&'static Schema> {
        self.extensions()
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(uri))
    }

    /// The core schema or one of the extensions of this kind.
    pub fn schema(self, uri: &str) -> Option<&'static Schema> {
        let core = self.core_schema();
        if core.id.eq_ignore_ascii_case(uri) {
            Some(core)
        } else {
            self.extension(uri)
        }
    }
}

/// Where an attribute path lands: the schema holding it, the attribute, and the
/// sub-attribute if the path names one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub schema: &'static Schema,
    pub attr: &'static AttributeDef,
    pub sub: Option<&'static AttributeDef>,
}

impl Resolved {
    /// Extension attributes live in an object under the extension URN (RFC 7643 §3.3).
    pub fn is_extension(&self) -> bool {
        !self.schema.is_core()
    }

    /// The top-level name used in audit records: canonical, URN-qualified for extensions.
    pub fn qualified_name(&self) -> String {
        if self.is_extension() {
            format!("{}:{}", self.schema.id, self.attr.name)
        } else {
            self.attr.name.to_string()
        }
    }
}

/// Resolve `path` against `kind`. A URN prefix selects the schema; without one the core schema
/// is tried first, then the extensions (lenient: clients write `employeeNumber` unqualified).
pub fn resolve(kind: ResourceKind, path: &AttrPath) -> Option<Resolved> {
    let (schema, attr) = match &path.uri {
        Some(uri) => {
            let schema = kind.schema(uri)?;
            (schema, schema.attribute(&path.name)?)
        }
        None => std::iter::once(kind.core_schema())
            .chain(kind.extensions().iter().copied())
            .find_map(|s| s.attribute(&path.name).map(|a| (s, a)))?,
    };
    let sub = match &path.sub {
        Some(name) => Some(attr.sub_attribute(name)?),
        None => None,
    };
    Some(Resolved { schema, attr, sub })
}

#[cfg(test)]
mod tests;
