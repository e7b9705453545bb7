//! A small HTML builder: every piece of text goes through [`esc`], so a user name or a
//! provider description can never become markup. The layout is one page shell with the
//! console's navigation; styles and script are static files (the CSP allows nothing inline).

use std::fmt::Write;

/// Escape text for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markup under construction. `text` escapes; `raw` is for markup this module built.
#[derive(Default)]
pub struct Html(String);

impl Html {
    pub fn new() -> Self {
        Html(String::with_capacity(4096))
    }

    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.0.push_str(&esc(s));
        self
    }

    /// `<tag attrs>text</tag>`; `attrs` must come from this module or be constant.
    pub fn el(&mut self, tag: &str, attrs: &str, text: &str) -> &mut Self {
        let _ = write!(
            self.0,
            "<{tag}{}{attrs}>{}</{tag}>",
            if attrs.is_empty() { "" } else { " " },
            esc(text)
        );
        self
    }

    /// A link with escaped text and href.
    pub fn link(&mut self, href: &str, text: &str) -> &mut Self {
        let _ = write!(self.0, "<a href=\"{}\">{}</a>", esc(href), esc(text));
        self
    }

    /// A hidden CSRF field for a form.
    pub fn csrf(&mut self, token: &str) -> &mut Self {
        let _ = write!(self.0, "<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(token));
        self
    }

    /// A one-button POST form (with the CSRF field).
    pub fn post_button(&mut self, action: &str, csrf: &str, label: &str, class: &str) -> &mut Self {
        let _ = write!(
            self.0,
            "<form method=\"post\" action=\"{}\" class=\"inline\">",
            esc(action)
        );
        self.csrf(csrf);
        let _ = write!(
            self.0,
            "<button type=\"submit\" class=\"{}\">{}</button></form>",
            esc(class),
            esc(label)
        );
        self
    }

    /// A read-only value with a copy button (and, when `secret`, masked with an eye button
    /// whose form reveals it).
    pub fn copy_field(&mut self, id: &str, label: &str, value: &str) -> &mut Self {
        let _ = write!(
            self.0,
            "<div class=\"field\"><label for=\"{id}\">{}</label><div class=\"value\"><input id=\"{id}\" readonly value=\"{}\">\
             <button type=\"button\" class=\"copy\" data-copy=\"{id}\" title=\"Copy\">Copy</button></div></div>",
            esc(label),
            esc(value)
        );
        self
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Where a page sits in the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Providers,
    InternalUsers,
    ThirdPartyUsers,
    InternalGroups,
    ThirdPartyGroups,
    Audit,
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
    (Section::Audit, "/admin/audit", "Audit log"),
];

/// Who is signed in, for the page header.
pub struct Viewer<'a> {
    pub admin: &'a str,
    pub csrf: &'a str,
}

/// The page shell: header with breadcrumb (Provisioning › Identity management › ...),
/// navigation, sign-out, and the body.
pub fn page(title: &str, section: Section, viewer: Option<&Viewer<'_>>, crumbs: &[(&str, &str)], body: &str) -> String {
    let mut h = Html::new();
    h.raw("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .el("title", "", &format!("{title} · scimd"))
        .raw("<link rel=\"stylesheet\" href=\"/admin/static/console.css\">")
        .raw("<script src=\"/admin/static/console.js\" defer></script></head><body>");
    h.raw("<header class=\"top\"><a class=\"brand\" href=\"/admin/providers\">scimd</a>");
    if let Some(v) = viewer {
        h.raw("<div class=\"who\">").el("span", "class=\"admin\"", v.admin);
        h.post_button("/admin/logout", v.csrf, "Sign out", "link");
        h.raw("</div>");
    }
    h.raw("</header>");
    if viewer.is_some() {
        h.raw("<nav class=\"side\" aria-label=\"Console\"><p class=\"group\">Provisioning</p><p class=\"sub\">Identity management</p><ul>");
        for (s, href, label) in NAV {
            let class = if *s == section { " class=\"current\"" } else { "" };
            let _ = write!(h.0, "<li{class}><a href=\"{href}\">{label}</a></li>");
        }
        h.raw("</ul></nav>");
    }
    h.raw("<main>");
    if viewer.is_some() {
        h.raw("<ol class=\"crumbs\"><li>Provisioning</li><li>Identity management</li>");
        for (label, href) in crumbs {
            if href.is_empty() {
                h.el("li", "", label);
            } else {
                h.raw("<li>").link(href, label).raw("</li>");
            }
        }
        h.raw("</ol>");
    }
    h.el("h1", "", title).raw(body).raw("</main></body></html>");
    h.into_string()
}

/// A page with just a message (errors, refusals), for when no session is at hand.
pub fn message_page(title: &str, message: &str) -> axum::response::Html<String> {
    let mut body = Html::new();
    body.el("p", "class=\"error\"", message)
        .raw("<p><a href=\"/admin/providers\">Back to the console</a></p>");
    axum::response::Html(page(title, Section::None, None, &[], &body.into_string()))
}

/// Pagination links: previous / next with the given query strings.
pub fn pager(h: &mut Html, prev: Option<String>, next: Option<String>) {
    h.raw("<nav class=\"pager\">");
    match prev {
        Some(href) => h.link(&href, "‹ Previous"),
        None => h.raw("<span class=\"disabled\">‹ Previous</span>"),
    };
    match next {
        Some(href) => h.link(&href, "Next ›"),
        None => h.raw("<span class=\"disabled\">Next ›</span>"),
    };
    h.raw("</nav>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_become_markup() {
        assert_eq!(
            esc("<script>\"x\" & 'y'"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;"
        );
        let mut h = Html::new();
        h.el("td", "", "<b>").link("/a?x=\"", "t");
        assert_eq!(h.into_string(), "<td>&lt;b&gt;</td><a href=\"/a?x=&quot;\">t</a>");
    }
}
