//! The console's markup, written with maud: every interpolated value is escaped unless it is
//! itself markup built here, so a user name or a provider description can never become
//! markup, without anyone having to remember. One page shell with the console's navigation;
//! styles and script are static files (the CSP allows nothing inline).

use maud::{DOCTYPE, Markup, html};

/// Where a page sits in the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Providers,
    InternalUsers,
    ThirdPartyUsers,
    InternalGroups,
    ThirdPartyGroups,
    Deleted,
    Access,
    Audit,
    Subscriptions,
    None,
}

const NAV: &[(Section, &str, &str)] = &[
    (Section::Providers, "/admin/providers", "Providers"),
    (Section::InternalUsers, "/admin/users/internal", "Internal users"),
    (
        Section::ThirdPartyUsers,
        "/admin/users/third-party",
        "Third-party users",
    ),
    (Section::InternalGroups, "/admin/groups/internal", "User groups"),
    (Section::ThirdPartyGroups, "/admin/groups/third-party", "Vendors"),
    (Section::Deleted, "/admin/deleted/internal", "Deleted"),
    (Section::Access, "/admin/access/third-party", "Access ending"),
    (Section::Audit, "/admin/audit", "Audit log"),
    (Section::Subscriptions, "/admin/subscriptions", "Subscriptions"),
];

/// Who is signed in, for the page header.
pub struct Viewer<'a> {
    pub admin: &'a str,
    pub csrf: &'a str,
}

/// A hidden CSRF field for a form.
pub fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A one-button POST form (with the CSRF field).
pub fn post_button(action: &str, csrf_token: &str, label: &str, class: &str) -> Markup {
    html! {
        form method="post" action=(action) class="inline" {
            (csrf(csrf_token))
            button type="submit" class=(class) { (label) }
        }
    }
}

/// The form that removes something once its id is typed again (see `ConfirmForm`).
pub fn confirm_form(action: &str, csrf_token: &str, what: &str, id: &str, button: &str) -> Markup {
    html! {
        form method="post" action=(action) class="card" {
            (csrf(csrf_token))
            label for="confirm" { "Type the " (what) "'s id (" (id) ") to confirm" }
            input id="confirm" name="confirm" required autocomplete="off";
            button type="submit" class="danger" { (button) }
        }
    }
}

/// A read-only value with a copy button.
pub fn copy_field(id: &str, label: &str, value: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            div.value {
                input id=(id) readonly value=(value);
                button type="button" class="copy" data-copy=(id) title="Copy" { "Copy" }
            }
        }
    }
}

/// A `<select>` with its current choice selected.
pub fn select(name: &str, current: Option<&str>, options: &[(&str, &str)]) -> Markup {
    html! {
        select id=(name) name=(name) {
            @for (value, label) in options {
                option value=(value) selected[current == Some(*value)] { (label) }
            }
        }
    }
}

/// The document every page shares: its head (the console's styles and script, and `head`
/// for what a kind of page adds) around `body`.
fn document(title: &str, head: Markup, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · scimd" }
                link rel="stylesheet" href="/admin/static/console.css";
                script src="/admin/static/console.js" defer {}
                (head)
            }
            (body)
        }
    }
    .into_string()
}

/// The page shell: header with breadcrumb (Provisioning › Identity management › ...),
/// navigation, sign-out, and the body.
pub fn page(
    title: &str,
    section: Section,
    viewer: Option<&Viewer<'_>>,
    crumbs: &[(&str, &str)],
    body: Markup,
) -> String {
    let body = html! {
        body {
            header.top {
                a.brand href="/admin/providers" { "scimd" }
                @if let Some(v) = viewer {
                    div.who {
                        span.admin { (v.admin) }
                        (post_button("/admin/logout", v.csrf, "Sign out", "link"))
                    }
                }
            }
            @if viewer.is_some() {
                nav.side aria-label="Console" {
                    p.group { "Provisioning" }
                    p.sub { "Identity management" }
                    ul {
                        @for (s, href, label) in NAV {
                            li class=[(*s == section).then_some("current")] { a href=(href) { (label) } }
                        }
                    }
                }
            }
            main {
                @if viewer.is_some() {
                    ol.crumbs {
                        li { "Provisioning" }
                        li { "Identity management" }
                        @for (label, href) in crumbs {
                            @if href.is_empty() {
                                li { (label) }
                            } @else {
                                li { a href=(href) { (label) } }
                            }
                        }
                    }
                }
                h1 { (title) }
                (body)
            }
        }
    };
    document(title, html! {}, body)
}

/// A page for someone who is not an administrator (a setup link's page): no navigation, no
/// session, the console's styles, the copy buttons and the setup page's status panel.
pub fn public_page(title: &str, body: Markup) -> String {
    let head = html! {
        meta name="robots" content="noindex, nofollow";
        script src="/admin/static/setup.js" defer {}
    };
    let body = html! {
        body.public {
            header.top { span.brand { "scimd" } }
            main {
                h1 { (title) }
                (body)
            }
        }
    };
    document(title, head, body)
}

/// A page with just a message (errors, refusals), for when no session is at hand.
pub fn message_page(title: &str, message: &str) -> axum::response::Html<String> {
    let body = html! {
        p.error { (message) }
        p { a href="/admin/providers" { "Back to the console" } }
    };
    axum::response::Html(page(title, Section::None, None, &[], body))
}

/// Pagination links: previous / next with the given query strings.
pub fn pager(prev: Option<String>, next: Option<String>) -> Markup {
    html! {
        nav.pager {
            @match prev {
                Some(href) => a href=(href) { "‹ Previous" },
                None => span.disabled { "‹ Previous" },
            }
            @match next {
                Some(href) => a href=(href) { "Next ›" },
                None => span.disabled { "Next ›" },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_become_markup() {
        let name = "<script>\"x\" & 'y'";
        let out = html! { td { (name) } a href="/a?x=\"" { "t" } }.into_string();
        assert_eq!(
            out,
            "<td>&lt;script&gt;&quot;x&quot; &amp; 'y'</td><a href=\"/a?x=&quot;\">t</a>"
        );
        let field = copy_field("f", "<b>", "\"><script>").into_string();
        assert!(!field.contains("<script>") && !field.contains("<b>"), "{field}");
    }
}
