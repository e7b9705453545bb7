//! The schema data of RFC 7643 §8.7.1 (User, Group, Enterprise User) and §3.1 (common attributes).

use super::{
    AttrType, AttributeDef, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, Returned, Schema, USER_SCHEMA, Uniqueness,
};

/// A readWrite, single-valued, optional, case-insensitive attribute returned by default:
/// the RFC's defaults (§2.2), which the builder methods below override.
/// An attribute with the RFC's default characteristics (§2.2): readWrite, single-valued,
/// optional, case-insensitive, returned by default, not unique.
pub fn attr(name: &str, ty: AttrType, description: &str) -> AttributeDef {
    AttributeDef {
        name: name.to_owned(),
        ty,
        multi_valued: false,
        description: description.to_owned(),
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: Vec::new(),
        reference_types: Vec::new(),
        sub_attributes: Vec::new(),
    }
}

fn string(name: &str, description: &str) -> AttributeDef {
    attr(name, AttrType::String, description)
}

fn complex(name: &str, description: &str, subs: Vec<AttributeDef>) -> AttributeDef {
    AttributeDef {
        sub_attributes: subs,
        ..attr(name, AttrType::Complex, description)
    }
}

impl AttributeDef {
    fn multi(self) -> Self {
        AttributeDef {
            multi_valued: true,
            ..self
        }
    }
    fn required(self) -> Self {
        AttributeDef { required: true, ..self }
    }
    fn exact(self) -> Self {
        AttributeDef {
            case_exact: true,
            ..self
        }
    }
    fn mutability(self, mutability: Mutability) -> Self {
        AttributeDef { mutability, ..self }
    }
    fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }
    fn returned(self, returned: Returned) -> Self {
        AttributeDef { returned, ..self }
    }
    fn unique(self, uniqueness: Uniqueness) -> Self {
        AttributeDef { uniqueness, ..self }
    }
    fn canonical(self, values: &[&str]) -> Self {
        AttributeDef {
            canonical_values: values.iter().map(|v| (*v).to_owned()).collect(),
            ..self
        }
    }
    fn refs(self, types: &[&str]) -> Self {
        AttributeDef {
            reference_types: types.iter().map(|v| (*v).to_owned()).collect(),
            ..self
        }
    }
}

/// The value/display/type/primary shape shared by emails, phoneNumbers, ims and friends.
fn multi_valued(name: &str, description: &str, value: AttributeDef, types: &[&str]) -> AttributeDef {
    complex(
        name,
        description,
        vec![
            value,
            string("display", "A human-readable name, primarily used for display purposes."),
            string("type", "A label indicating the attribute's function.").canonical(types),
            attr(
                "primary",
                AttrType::Boolean,
                "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
            ),
        ],
    )
    .multi()
}

pub(super) fn common() -> Vec<AttributeDef> {
    vec![
        // Not an attribute in RFC 7643's schema listings, but filters (`schemas eq "urn:..."`,
        // RFC 7644 §3.4.2.2) and projection ("always" returned) treat it as one.
        attr("schemas", AttrType::Reference, "The schemas the resource conforms to.")
            .multi()
            .read_only()
            .returned(Returned::Always)
            .refs(&["uri"]),
        string(
            "id",
            "Unique identifier for the SCIM resource as defined by the service provider.",
        )
        .exact()
        .read_only()
        .returned(Returned::Always)
        .unique(Uniqueness::Server),
        string(
            "externalId",
            "A String that is an identifier for the resource as defined by the provisioning client.",
        )
        .exact(),
        complex(
            "meta",
            "A complex attribute containing resource metadata.",
            vec![
                string("resourceType", "The name of the resource type of the resource.")
                    .exact()
                    .read_only(),
                attr(
                    "created",
                    AttrType::DateTime,
                    "The DateTime that the resource was added to the service provider.",
                )
                .read_only(),
                attr(
                    "lastModified",
                    AttrType::DateTime,
                    "The most recent DateTime that the details of this resource were updated at the service provider.",
                )
                .read_only(),
                attr(
                    "location",
                    AttrType::Reference,
                    "The URI of the resource being returned.",
                )
                .exact()
                .read_only()
                .refs(&["uri"]),
                string("version", "The version of the resource being returned.")
                    .exact()
                    .read_only(),
            ],
        )
        .read_only(),
    ]
}

pub(super) fn user() -> Schema {
    const ADDRESS_TYPES: &[&str] = &["work", "home", "other"];
    Schema {
        id: USER_SCHEMA.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes: vec![
            string("userName", "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.")
                .required()
                .unique(Uniqueness::Server),
            complex(
                "name",
                "The components of the user's real name.",
                vec![
                    string("formatted", "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
                    string("familyName", "The family name of the User, or last name in most Western languages."),
                    string("givenName", "The given name of the User, or first name in most Western languages."),
                    string("middleName", "The middle name(s) of the User."),
                    string("honorificPrefix", "The honorific prefix(es) of the User, or title in most Western languages."),
                    string("honorificSuffix", "The honorific suffix(es) of the User, or suffix in most Western languages."),
                ],
            ),
            string("displayName", "The name of the User, suitable for display to end-users."),
            string("nickName", "The casual way to address the user in real life."),
            attr("profileUrl", AttrType::Reference, "A fully qualified URL pointing to a page representing the User's online profile.")
                .refs(&["external"]),
            string("title", "The user's title, such as \"Vice President.\""),
            string("userType", "Used to identify the relationship between the organization and the user."),
            string("preferredLanguage", "Indicates the User's preferred written or spoken language."),
            string("locale", "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations."),
            string("timezone", "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'."),
            attr("active", AttrType::Boolean, "A Boolean value indicating the User's administrative status."),
            string("password", "The User's cleartext password.")
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never),
            multi_valued("emails", "Email addresses for the user.", string("value", "Email addresses for the user."), ADDRESS_TYPES),
            multi_valued(
                "phoneNumbers",
                "Phone numbers for the User.",
                string("value", "Phone number of the User."),
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            multi_valued(
                "ims",
                "Instant messaging addresses for the User.",
                string("value", "Instant messaging address for the User."),
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            multi_valued(
                "photos",
                "URLs of photos of the User.",
                attr("value", AttrType::Reference, "URL of a photo of the User.").refs(&["external"]),
                &["photo", "thumbnail"],
            ),
            complex(
                "addresses",
                "A physical mailing address for this User.",
                vec![
                    string("formatted", "The full mailing address, formatted for display or use with a mailing label."),
                    string("streetAddress", "The full street address component."),
                    string("locality", "The city or locality component."),
                    string("region", "The state or region component."),
                    string("postalCode", "The zip code or postal code component."),
                    string("country", "The country name component."),
                    string("type", "A label indicating the attribute's function.").canonical(ADDRESS_TYPES),
                    attr("primary", AttrType::Boolean, "A Boolean value indicating the 'primary' or preferred address."),
                ],
            )
            .multi(),
            complex(
                "groups",
                "A list of groups to which the user belongs, either through direct membership or through nested groups.",
                vec![
                    string("value", "The identifier of the User's group.").read_only(),
                    attr("$ref", AttrType::Reference, "The URI of the corresponding 'Group' resource to which the user belongs.")
                        .refs(&["User", "Group"])
                        .read_only(),
                    string("display", "A human-readable name, primarily used for display purposes.").read_only(),
                    string("type", "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.")
                        .canonical(&["direct", "indirect"])
                        .read_only(),
                ],
            )
            .multi()
            .read_only(),
            multi_valued("entitlements", "A list of entitlements for the User that represent a thing the User has.", string("value", "The value of an entitlement."), &[]),
            multi_valued("roles", "A list of roles for the User that collectively represent who the User is.", string("value", "The value of a role."), &[]),
            multi_valued(
                "x509Certificates",
                "A list of certificates issued to the User.",
                attr("value", AttrType::Binary, "The value of an X.509 certificate."),
                &[],
            ),
        ],
    }
}

pub(super) fn enterprise_user() -> Schema {
    Schema {
        id: ENTERPRISE_USER_SCHEMA.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            string(
                "employeeNumber",
                "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
            ),
            string("costCenter", "Identifies the name of a cost center."),
            string("organization", "Identifies the name of an organization."),
            string("division", "Identifies the name of a division."),
            string("department", "Identifies the name of a department."),
            complex(
                "manager",
                "The User's manager.",
                vec![
                    string("value", "The id of the SCIM resource representing the User's manager."),
                    attr(
                        "$ref",
                        AttrType::Reference,
                        "The URI of the SCIM resource representing the User's manager.",
                    )
                    .refs(&["User"]),
                    string("displayName", "The displayName of the User's manager.").read_only(),
                ],
            ),
        ],
    }
}

pub(super) fn group() -> Schema {
    Schema {
        id: GROUP_SCHEMA.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes: vec![
            string("displayName", "A human-readable name for the Group.").required(),
            complex(
                "members",
                "A list of members of the Group.",
                vec![
                    string("value", "Identifier of the member of this Group.").mutability(Mutability::Immutable),
                    attr(
                        "$ref",
                        AttrType::Reference,
                        "The URI corresponding to a SCIM resource that is a member of this Group.",
                    )
                    .refs(&["User", "Group"])
                    .mutability(Mutability::Immutable),
                    string("display", "A human-readable name, primarily used for display purposes.").read_only(),
                    string(
                        "type",
                        "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                    )
                    .canonical(&["User", "Group"])
                    .mutability(Mutability::Immutable),
                ],
            )
            .multi(),
        ],
    }
}
