//! The dashboard's pages: server-rendered from templates embedded in the binary, each
//! with the script that fills it from the API.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{Environment, Value, context};

use super::Shared;
use super::guard::SignedIn;

/// Where a signed-in person lands.
pub const FIRST_PAGE: &str = "/dashboard/rooms";
const SIGN_IN_PAGE: &str = "/dashboard/sign-in";

/// Every template, embedded.
const TEMPLATES: [(&str, &str); 13] = [
    ("layout.html", include_str!("assets/layout.html")),
    ("sign_in.html", include_str!("assets/sign_in.html")),
    ("not_found.html", include_str!("assets/not_found.html")),
    ("developer.html", include_str!("assets/developer.html")),
    ("templates.html", include_str!("assets/templates.html")),
    ("template.html", include_str!("assets/template.html")),
    ("rooms.html", include_str!("assets/rooms.html")),
    ("room.html", include_str!("assets/room.html")),
    ("live.html", include_str!("assets/live.html")),
    ("live_room.html", include_str!("assets/live_room.html")),
    ("sessions.html", include_str!("assets/sessions.html")),
    ("session.html", include_str!("assets/session.html")),
    ("webhooks.html", include_str!("assets/webhooks.html")),
];

/// A page of the dashboard: the menu section it belongs to, whether its path names an
/// object (`rooms/{id}`), its template and its title.
struct PageSpec {
    section: &'static str,
    names_object: bool,
    template: &'static str,
    title: &'static str,
}

const PAGES: [PageSpec; 10] = [
    page_spec("developer", false, "developer.html", "Developer"),
    page_spec("templates", false, "templates.html", "Templates"),
    page_spec("templates", true, "template.html", "Template"),
    page_spec("rooms", false, "rooms.html", "Rooms"),
    page_spec("rooms", true, "room.html", "Room"),
    page_spec("live", false, "live.html", "Live rooms"),
    page_spec("live", true, "live_room.html", "Live room"),
    page_spec("sessions", false, "sessions.html", "Sessions"),
    page_spec("sessions", true, "session.html", "Session"),
    page_spec("webhooks", false, "webhooks.html", "Webhooks"),
];

const fn page_spec(section: &'static str, names_object: bool, template: &'static str, title: &'static str) -> PageSpec {
    PageSpec {
        section,
        names_object,
        template,
        title,
    }
}

/// The page at `path` (below `/dashboard/`), with the id of the object it names, if any.
fn resolve(path: &str) -> Option<(&'static PageSpec, Option<&str>)> {
    let (section, id) = match path.split_once('/') {
        Some((section, id)) if !id.is_empty() && !id.contains('/') => (section, Some(id)),
        Some(_) => return None,
        None => (path, None),
    };
    let spec = PAGES
        .iter()
        .find(|spec| spec.section == section && spec.names_object == id.is_some())?;
    Some((spec, id))
}

pub struct Pages {
    templates: Environment<'static>,
}

impl Pages {
    pub fn new() -> Self {
        let mut templates = Environment::new();
        for (name, source) in TEMPLATES {
            templates
                .add_template(name, source)
                .expect("the dashboard's templates are valid");
        }
        Self { templates }
    }

    fn render(&self, status: StatusCode, name: &str, context: Value) -> Response {
        match self
            .templates
            .get_template(name)
            .and_then(|template| template.render(context))
        {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, template = name, "cannot render a dashboard page");
                (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
            }
        }
    }

    /// The sign-in form, with what went wrong last time.
    pub fn sign_in(&self, status: StatusCode, message: Option<&str>) -> Response {
        self.render(status, "sign_in.html", context! { title => "Sign in", message })
    }
}

/// `GET /dashboard`.
pub async fn home(State(dashboard): State<Shared>, headers: HeaderMap) -> Response {
    match dashboard.signed_in(&headers) {
        Some(_) => Redirect::to(FIRST_PAGE).into_response(),
        None => Redirect::to(SIGN_IN_PAGE).into_response(),
    }
}

/// `GET /dashboard/{page}`: a page for who is signed in; the sign-in form for the rest.
pub async fn page(State(dashboard): State<Shared>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(signed_in) = dashboard.signed_in(&headers) else {
        return Redirect::to(SIGN_IN_PAGE).into_response();
    };
    let Some((spec, id)) = resolve(&path) else {
        return dashboard.pages.render(
            StatusCode::NOT_FOUND,
            "not_found.html",
            context! { title => "Not found" },
        );
    };
    let context = page_context(&dashboard, &signed_in, spec, id, &headers);
    dashboard.pages.render(StatusCode::OK, spec.template, context)
}

fn page_context(
    dashboard: &Shared,
    signed_in: &SignedIn,
    spec: &PageSpec,
    id: Option<&str>,
    headers: &HeaderMap,
) -> Value {
    let workspace = dashboard
        .app
        .credentials
        .by_workspace_id(&signed_in.session.workspace_id)
        .map(|credentials| credentials.workspace.clone());
    context! {
        title => spec.title,
        section => spec.section,
        id,
        csrf => signed_in.session.csrf_token,
        base_url => base_url(dashboard, headers),
        workspace_name => workspace.as_ref().map(|w| w.name.clone()),
        access_key => workspace.as_ref().map(|w| w.access_key.clone()),
        simulator => dashboard.app.config.simulate_peers,
    }
}

/// This server's address for the snippets: its public URL, or the address the browser
/// reached it at.
fn base_url(dashboard: &Shared, headers: &HeaderMap) -> String {
    if let Some(public) = &dashboard.app.config.public_url {
        return public.as_str().trim_end_matches('/').to_owned();
    }
    let scheme = if dashboard.over_tls(headers) { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    format!("{scheme}://{host}")
}

/// `GET /dashboard/assets/{file}`: the script and the style sheet.
pub async fn asset(Path(file): Path<String>) -> Response {
    let (content_type, body) = match file.as_str() {
        "app.js" => ("text/javascript; charset=utf-8", include_str!("assets/app.js")),
        "app.css" => ("text/css; charset=utf-8", include_str!("assets/app.css")),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated on every load so that a new binary's assets are used at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_page_and_object() {
        let (spec, id) = resolve("rooms").unwrap();
        assert_eq!((spec.template, id), ("rooms.html", None));
        let (spec, id) = resolve("rooms/abc").unwrap();
        assert_eq!((spec.template, id), ("room.html", Some("abc")));
        let (spec, id) = resolve("live/abc").unwrap();
        assert_eq!(
            (spec.template, spec.section, id),
            ("live_room.html", "live", Some("abc"))
        );
        for unknown in ["nothing", "rooms/", "rooms/a/b", "developer/abc", "webhooks/x"] {
            assert!(resolve(unknown).is_none(), "{unknown}");
        }
    }

    #[test]
    fn every_template_renders() {
        let pages = Pages::new();
        for spec in &PAGES {
            let context = context! { title => spec.title, section => spec.section, id => "x", csrf => "t" };
            let html = pages
                .templates
                .get_template(spec.template)
                .unwrap()
                .render(context)
                .unwrap();
            assert!(
                html.contains("<meta name=\"csrf-token\" content=\"t\">"),
                "{}",
                spec.template
            );
        }
    }
}
