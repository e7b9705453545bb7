//! The custom attributes of a provider, on its details page: the extension schemas it
//! declares (added by pasting or uploading RFC 7643 §7 JSON, removed with or without the values
//! resources hold), and what it sent that no schema declares.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use axum::{Extension, Form, Router};
use maud::{Markup, html};
use scimd_core::Provider;
use scimd_core::extensions::{ExtensionInput, index_summary};
use scimd_core::input::split_list;
use scimd_core::resource::Discovered;
use serde::Deserialize;
use serde_json::Value;

use super::Page;
use super::provider_page::{Once, details};
use crate::AppState;
use crate::admin::auth::ConsoleAdmin;
use crate::admin::html::{csrf as html_csrf, select};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/providers/{id}/schemas", post(schemas_add))
        .route("/admin/providers/{id}/schemas/remove", post(schemas_remove))
}

/// The add form as sent, kept to fill the form again when the schema is refused.
#[derive(Deserialize, Default, Clone)]
pub(super) struct SchemaForm {
    #[serde(default)]
    pub schema: String,
    #[serde(default)]
    pub resource_type: String,
    pub required: Option<String>,
    #[serde(default)]
    pub index: String,
    pub force: Option<String>,
}

#[derive(Deserialize)]
struct RemoveForm {
    urn: String,
    force: Option<String>,
}

/// The card: declared schemas with their attributes, discovered attributes, the add form.
/// `refused` is the form sent and why it was refused.
pub(super) fn section(
    p: &Provider,
    discovered: &[Discovered],
    csrf: &str,
    refused: Option<(&SchemaForm, &str)>,
) -> Markup {
    let base = format!("/admin/providers/{}", p.id);
    let form = refused.map(|(f, _)| f.clone()).unwrap_or_default();
    html! {
        section.card #custom-attributes {
            h2 { "Custom attributes" }
            p {
                "Attributes beyond the core and enterprise schemas, typed by the extension schemas declared here. "
                "Attributes no schema declares are "
                @match p.settings.undeclared {
                    scimd_core::provider::UndeclaredPolicy::Keep => "kept as sent",
                    scimd_core::provider::UndeclaredPolicy::Reject => "refused",
                }
                " (" a href=(format!("{base}/edit")) { "change" } ")."
            }
            @if p.settings.extensions.is_empty() {
                p.empty { "No extension schema declared." }
            }
            @for e in &p.settings.extensions {
                @let indexed = index_summary(e);
                div.schema {
                    h3.mono { (e.schema.id) }
                    p {
                        (e.resource_type.name()) " extension"
                        @if e.required { ", required" }
                        @if !e.schema.description.is_empty() { ": " (e.schema.description) }
                    }
                    div.table { table.schema-attributes {
                        thead { tr { th { "Attribute" } th { "Type" } th { "Characteristics" } } }
                        tbody {
                            @for a in &e.schema.attributes {
                                tr {
                                    td.mono { (a.name) }
                                    td { (a.ty.as_str()) @if a.multi_valued { " (multi-valued)" } }
                                    td { (characteristics(a, indexed.contains(&a.name))) }
                                }
                            }
                        }
                    } }
                    form method="post" action=(format!("{base}/schemas/remove")) class="inline" {
                        (html_csrf(csrf))
                        input type="hidden" name="urn" value=(e.schema.id);
                        label.check { input type="checkbox" name="force" value="on"; " also delete the values users and groups hold for it (audited)" }
                        " "
                        button type="submit" class="danger" { "Remove " (e.schema.name) }
                    }
                }
            }
            @if !discovered.is_empty() {
                h3 { "Sent but not declared" }
                div.table { table #discovered {
                    thead { tr { th { "Resource" } th { "Attribute" } th { "Sent as" } th { "First seen" } } }
                    tbody {
                        @for d in discovered {
                            tr {
                                td { (d.kind.name()) }
                                td.mono { @if d.uri.is_empty() { (d.name) } @else { (d.uri) ":" (d.name) } }
                                td { (d.json_type) }
                                td { (d.first_seen.to_rfc3339()) }
                            }
                        }
                    }
                } }
            }
            h3 { "Declare an extension schema" }
            @if let Some((_, why)) = refused {
                p.error role="alert" #schema-error { "Not declared: " (why) }
            }
            form method="post" action=(format!("{base}/schemas")) #schema-form {
                (html_csrf(csrf))
                label for="schema" { "Schema (RFC 7643 section 7 JSON: {\"id\": \"urn:...\", \"attributes\": [...]})" }
                textarea id="schema" name="schema" rows="8" spellcheck="false" class="mono" required { (form.schema) }
                label for="schema-file" { "or load it from a file" }
                input id="schema-file" type="file" accept=".json,application/json" data-fill="schema";
                label for="resource_type" { "Extends" }
                (select("resource_type", Some(if form.resource_type.is_empty() { "User" } else { &form.resource_type }), &[
                    ("User", "Users"), ("Group", "Groups"),
                ]))
                label.check { input type="checkbox" name="required" value="on" checked[form.required.is_some()]; " Every user (or group) must carry it" }
                label for="index" { "Index for fast lookups (string attributes, comma-separated)" }
                input id="index" name="index" value=(form.index) placeholder="costCenter";
                label.check {
                    input type="checkbox" name="force" value="on" checked[form.force.is_some()];
                    " Drop stored values that do not fit the schema instead of refusing (audited)"
                }
                button type="submit" class="primary" { "Declare schema" }
            }
        }
    }
}

/// An attribute's characteristics that differ from the defaults, in words.
fn characteristics(a: &scim_proto::schema::AttributeDef, indexed: bool) -> String {
    use scim_proto::schema::{Mutability, Returned, Uniqueness};
    let mut out = Vec::new();
    if a.required {
        out.push("required".to_owned());
    }
    if a.case_exact {
        out.push("case-exact".to_owned());
    }
    match a.mutability {
        Mutability::ReadWrite => {}
        Mutability::ReadOnly => out.push("read-only".into()),
        Mutability::Immutable => out.push("immutable".into()),
        Mutability::WriteOnly => out.push("write-only".into()),
    }
    match a.returned {
        Returned::Default => {}
        Returned::Always => out.push("always returned".into()),
        Returned::Never => out.push("never returned".into()),
        Returned::Request => out.push("returned on request".into()),
    }
    if a.uniqueness != Uniqueness::None {
        out.push("unique".into());
    }
    if indexed {
        out.push("indexed".into());
    }
    if !a.canonical_values.is_empty() {
        out.push(format!("one of {}", a.canonical_values.join(", ")));
    }
    if !a.sub_attributes.is_empty() {
        let subs: Vec<&str> = a.sub_attributes.iter().map(|s| s.name.as_str()).collect();
        out.push(format!("sub-attributes {}", subs.join(", ")));
    }
    out.join("; ")
}

async fn schemas_add(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<SchemaForm>,
) -> Page {
    let schema = match serde_json::from_str::<Value>(&f.schema) {
        Ok(v) => v,
        Err(e) => {
            let why = format!("the schema is not JSON ({e})");
            return details(&state, &admin, &id, Once::SchemaRefused(Box::new(f), why)).await;
        }
    };
    let input = ExtensionInput {
        schema,
        resource_type: Some(f.resource_type.clone()).filter(|t| !t.is_empty()),
        required: f.required.is_some(),
        index: split_list(&f.index),
        force: f.force.is_some(),
    };
    match state.core.declare_extension(&id, input, &admin.actor()).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/providers/{id}#custom-attributes")).into_response()),
        Err(e @ (scimd_core::CoreError::Invalid(_) | scimd_core::CoreError::Conflict(_))) => {
            details(&state, &admin, &id, Once::SchemaRefused(Box::new(f), e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn schemas_remove(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(id): Path<String>,
    Form(f): Form<RemoveForm>,
) -> Page {
    state
        .core
        .remove_extension(&id, &f.urn, f.force.is_some(), &admin.actor())
        .await?;
    Ok(Redirect::to(&format!("/admin/providers/{id}#custom-attributes")).into_response())
}
