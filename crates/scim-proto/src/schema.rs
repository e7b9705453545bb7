//! Attribute definitions and the built-in schemas: RFC 7643 §2 (characteristics),
//! §3.1 (common attributes), §4 (User, Group, Enterprise User), §7 and §8.7.1 (representation).

mod defs;
mod parse;

pub use defs::attr as attribute;

use std::sync::{Arc, LazyLock};

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
    pub name: String,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
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
    pub id: String,
    pub name: String,
    pub description: String,
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

    /// How messages name attribute `name` of this schema: bare in the core schema, with the
    /// schema URN in an extension (as clients map it: `urn:...:2.0:User:costCenter`).
    pub fn attribute_name(&self, name: &str) -> String {
        if self.is_core() {
            name.to_owned()
        } else {
            format!("{}:{name}", self.id)
        }
    }

    /// Is this the URN of a schema scimd defines itself (core or enterprise), which no
    /// provider may declare again?
    pub fn is_builtin_id(uri: &str) -> bool {
        all_schemas().iter().any(|s| s.id.eq_ignore_ascii_case(uri))
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
static ENTERPRISE_USER: LazyLock<Arc<Schema>> = LazyLock::new(|| Arc::new(defs::enterprise_user()));
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

/// The built-in schemas, for `/Schemas`.
pub fn all_schemas() -> [&'static Schema; 3] {
    [user_schema(), group_schema(), enterprise_user_schema()]
}

/// Case-insensitive: URNs are compared so by clients in practice, and RFC 8141 makes the
/// `urn:` prefix and namespace case-insensitive anyway.
pub fn schema_by_id(uri: &str) -> Option<&'static Schema> {
    all_schemas().into_iter().find(|s| s.id.eq_ignore_ascii_case(uri))
}

/// Does `key` name a schema (a URN), as the keys of extension objects do?
pub fn is_schema_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) && key.len() > 4
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

    /// The schemas of this kind with only the built-in extensions (the enterprise User
    /// extension), undeclared attributes kept: what a provider without declared extensions
    /// gets.
    pub fn builtin(self) -> &'static ResourceSchemas {
        static USER: LazyLock<ResourceSchemas> = LazyLock::new(|| ResourceSchemas::new(ResourceKind::User, Vec::new()));
        static GROUP: LazyLock<ResourceSchemas> =
            LazyLock::new(|| ResourceSchemas::new(ResourceKind::Group, Vec::new()));
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }
}

/// An extension schema of a resource type (RFC 7643 §6 `schemaExtensions`).
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    pub schema: Arc<Schema>,
    /// Every resource of the type must carry it.
    pub required: bool,
    /// Attributes the store keeps an index of for fast equality lookups (besides those
    /// with `uniqueness: server`, always indexed).
    pub indexed: Vec<String>,
}

impl Extension {
    /// Is the top-level attribute `attr` of this extension kept in an index?
    pub fn is_indexed(&self, attr: &AttributeDef) -> bool {
        attr.ty == AttrType::String
            && (attr.uniqueness != Uniqueness::None || self.indexed.iter().any(|n| n.eq_ignore_ascii_case(&attr.name)))
    }
}

/// What to do with attributes no schema declares (RFC 7644 §3.3 lets a server ignore them;
/// dropping what a client mapped on purpose loses data without a word, so scimd does not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Undeclared {
    /// Store them as sent and return them on every read.
    #[default]
    Keep,
    /// Refuse the request, naming them.
    Reject,
}

/// The schemas one resource type is checked against: its core schema and its extensions
/// (the built-in enterprise extension for users, then what a provider declared), and what
/// happens to attributes none of them declares.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchemas {
    pub kind: ResourceKind,
    extensions: Vec<Extension>,
    pub undeclared: Undeclared,
}

impl ResourceSchemas {
    /// The built-in extensions of `kind`, then `declared`.
    pub fn new(kind: ResourceKind, declared: Vec<Extension>) -> Self {
        let mut extensions = Vec::with_capacity(declared.len() + 1);
        if kind == ResourceKind::User {
            extensions.push(Extension {
                schema: Arc::clone(&ENTERPRISE_USER),
                required: false,
                indexed: Vec::new(),
            });
        }
        extensions.extend(declared);
        ResourceSchemas {
            kind,
            extensions,
            undeclared: Undeclared::Keep,
        }
    }

    pub fn with_undeclared(mut self, undeclared: Undeclared) -> Self {
        self.undeclared = undeclared;
        self
    }

    pub fn core(&self) -> &'static Schema {
        self.kind.core_schema()
    }

    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The core schema, then the extensions.
    pub fn all(&self) -> impl Iterator<Item = &Schema> {
        std::iter::once(self.core()).chain(self.extensions.iter().map(|e| &*e.schema))
    }

    /// The extension schemas.
    pub fn extension_schemas(&self) -> impl Iterator<Item = &Schema> {
        self.extensions.iter().map(|e| &*e.schema)
    }

    /// The declaration of the extension whose URI is `uri` (case-insensitive).
    pub fn declared(&self, uri: &str) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.schema.id.eq_ignore_ascii_case(uri))
    }

    /// The extension whose URI is `uri` (case-insensitive).
    pub fn extension(&self, uri: &str) -> Option<&Schema> {
        self.extensions
            .iter()
            .map(|e| &*e.schema)
            .find(|s| s.id.eq_ignore_ascii_case(uri))
    }

    /// The core schema or one of the extensions.
    pub fn schema(&self, uri: &str) -> Option<&Schema> {
        let core = self.core();
        if core.id.eq_ignore_ascii_case(uri) {
            Some(core)
        } else {
            self.extension(uri)
        }
    }

    /// [`ResourceSchemas::resolve`] of an optional path.
    pub fn resolve_opt(&self, path: Option<&AttrPath>) -> Option<Resolved<'_>> {
        path.and_then(|p| self.resolve(p))
    }

    /// Resolve `path`. A URN prefix selects the schema; without one the core schema is tried
    /// first, then the extensions (lenient: clients write `employeeNumber` unqualified).
    pub fn resolve(&self, path: &AttrPath) -> Option<Resolved<'_>> {
        let (schema, attr) = match &path.uri {
            Some(uri) => {
                let schema = self.schema(uri)?;
                (schema, schema.attribute(&path.name)?)
            }
            None => std::iter::once(self.core())
                .chain(self.extensions.iter().map(|e| &*e.schema))
                .find_map(|s| s.attribute(&path.name).map(|a| (s, a)))?,
        };
        let sub = match &path.sub {
            Some(name) => Some(attr.sub_attribute(name)?),
            None => None,
        };
        Some(Resolved { schema, attr, sub })
    }
}

/// Where an attribute path lands: the schema holding it, the attribute, and the
/// sub-attribute if the path names one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    pub schema: &'a Schema,
    pub attr: &'a AttributeDef,
    pub sub: Option<&'a AttributeDef>,
}

impl Resolved<'_> {
    /// Extension attributes live in an object under the extension URN (RFC 7643 §3.3).
    pub fn is_extension(&self) -> bool {
        !self.schema.is_core()
    }

    /// The top-level name used in audit records: canonical, URN-qualified for extensions.
    pub fn qualified_name(&self) -> String {
        self.schema.attribute_name(&self.attr.name)
    }
}

/// Resolve `path` against `schemas` (see [`ResourceSchemas::resolve`]).
pub fn resolve<'a>(schemas: &'a ResourceSchemas, path: &AttrPath) -> Option<Resolved<'a>> {
    schemas.resolve(path)
}

#[cfg(test)]
mod tests;
