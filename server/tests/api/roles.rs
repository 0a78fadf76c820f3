//! Roles: every `/api/v1` route, as the router declares it, with the least role that may
//! call it; each role below it is refused with 403 `role_required`, each role at or above
//! it is let through (whatever the route then answers).

use crate::support::{client_for, spawn_app, Options, TestApp, PASSWORD};
use app::api::{Capability, Role, ROLE_REQUIRED};
use std::collections::{BTreeMap, BTreeSet};

/// Who may call a route: anyone (signing in, first-run setup) or at least a role.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Least {
    Anyone,
    At(Role),
}
use Least::{Anyone, At};

const VIEWER: Least = At(Role::Viewer);
const OPERATOR: Least = At(Role::Operator);
const ADMIN: Least = At(Role::Admin);

/// The access table. A route missing here, or listed here and not in the router, fails
/// `the_table_lists_every_route_of_the_router`.
const ACCESS: &[(&str, &str, Least)] = &[
    ("POST", "/auth/login", Anyone),
    ("POST", "/auth/logout", Anyone),
    ("GET", "/auth/me", VIEWER),
    ("GET", "/setup", Anyone),
    ("POST", "/setup", Anyone),
    ("POST", "/auth/confirm", VIEWER),
    ("GET", "/audit", VIEWER),
    ("GET", "/backups", VIEWER),
    ("POST", "/backups", OPERATOR),
    ("GET", "/backups/status", VIEWER),
    ("GET", "/backups/{id}", VIEWER),
    ("DELETE", "/backups/{id}", ADMIN),
    ("POST", "/backups/{id}/pin", OPERATOR),
    ("POST", "/backups/{id}/test-restore", OPERATOR),
    ("GET", "/backups/{id}/download", OPERATOR),
    ("GET", "/backups/{id}/metadata", OPERATOR),
    ("GET", "/jobs/{id}", VIEWER),
    ("DELETE", "/jobs/{id}", OPERATOR),
    ("GET", "/jobs/{id}/events", VIEWER),
    ("POST", "/restores", OPERATOR),
    ("GET", "/restores/plan", OPERATOR),
    ("GET", "/restores/kept-databases", VIEWER),
    ("DELETE", "/restores/kept-databases/{name}", ADMIN),
    (
        "POST",
        "/restores/kept-databases/{name}/final-backup",
        OPERATOR,
    ),
    ("GET", "/restores/{id}", VIEWER),
    ("POST", "/restores/{id}/rollback", OPERATOR),
    ("GET", "/retention/plan", ADMIN),
    ("GET", "/schedule", VIEWER),
    ("PUT", "/schedule", ADMIN),
    ("POST", "/alerts/test", ADMIN),
    ("GET", "/settings", ADMIN),
    ("POST", "/uploads", OPERATOR),
    ("POST", "/auth/password", VIEWER),
    ("GET", "/auth/sessions", VIEWER),
    ("DELETE", "/auth/sessions", VIEWER),
    ("DELETE", "/auth/sessions/{id}", VIEWER),
    ("POST", "/invitations/check", Anyone),
    ("POST", "/invitations/accept", Anyone),
    ("GET", "/users", ADMIN),
    ("POST", "/users", ADMIN),
    ("PATCH", "/users/{id}", ADMIN),
    ("DELETE", "/users/{id}", ADMIN),
    ("DELETE", "/users/{id}/sessions", ADMIN),
    ("POST", "/users/{id}/reset-password", ADMIN),
    ("DELETE", "/users/{id}/totp", ADMIN),
    ("POST", "/auth/second-factor", Anyone),
    ("GET", "/auth/totp", VIEWER),
    ("POST", "/auth/totp/enrol", VIEWER),
    ("POST", "/auth/totp/confirm", VIEWER),
    ("POST", "/auth/totp/disable", VIEWER),
    ("GET", "/tokens", VIEWER),
    ("POST", "/tokens", VIEWER),
    ("DELETE", "/tokens/{id}", VIEWER),
];

/// The `/api/v1` routes as the source declares them: the modules merged into the API
/// router in `http/mod.rs`, and each `.route(PATH, METHOD(..).METHOD(..))` of their
/// `routes()`.
fn routes_in_the_router() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let root = read("mod.rs");
    let api = &root[root
        .find("let api = Router::new()")
        .expect("the API router")..];
    let api = &api[..api.find(';').expect("its end")];
    let mut modules = vec![];
    for part in api.split(".merge(").skip(1) {
        let module = part.split("::routes()").next().expect("module");
        modules.push(module.trim().to_string());
    }
    assert!(modules.len() >= 8, "modules merged: {modules:?}");
    let mut found = BTreeSet::new();
    for module in modules {
        let source = read(&format!("{module}.rs"));
        let body = &source[source.find("pub fn routes()").expect("routes()")..];
        let body = &body[..body.find("\n}\n").expect("end of routes()")];
        for route in body.split(".route(").skip(1) {
            let path = route.split('"').nth(1).expect("a path").to_string();
            let calls = route.split_once(',').map(|(_, rest)| rest).unwrap_or("");
            let mut methods = 0;
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = calls.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || !calls.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && calls.as_bytes()[i - 1] != b'_'
                });
                if called {
                    methods += 1;
                    found.insert((method.to_uppercase(), path.clone()));
                }
            }
            assert!(methods > 0, "no method found for {path} in {module}.rs");
        }
    }
    found
}

#[test]
fn the_table_lists_every_route_of_the_router() {
    let table: BTreeSet<_> = ACCESS
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(table.len(), ACCESS.len(), "a route is listed twice");
    let router = routes_in_the_router();
    let missing: Vec<_> = router.difference(&table).collect();
    let extra: Vec<_> = table.difference(&router).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes without a role in the table: {missing:?}; listed but not routed: {extra:?}"
    );
}

/// The SPA offers each control only to the roles the server lets through: every
/// capability the pages gate (`app::api::Capability`) names routes of this table and asks
/// for the same least role, and every route a viewer may not call is named by one.
#[test]
fn the_pages_ask_for_the_same_least_role_as_the_server() {
    let least_of: BTreeMap<(&str, &str), Least> =
        ACCESS.iter().map(|(m, p, l)| ((*m, *p), *l)).collect();
    let mut named = BTreeSet::new();
    for cap in Capability::ALL {
        for route in cap.routes() {
            let least = least_of
                .get(route)
                .unwrap_or_else(|| panic!("{cap} names {route:?}, which is not in the table"));
            assert_eq!(
                *least,
                At(cap.least()),
                "{cap}: the server's least role for {} {} is not the page's",
                route.0,
                route.1
            );
            named.insert(*route);
        }
    }
    let unnamed: Vec<_> = ACCESS
        .iter()
        .filter(|(_, _, least)| matches!(least, At(r) if *r != Role::Viewer))
        .map(|(m, p, _)| (*m, *p))
        .filter(|route| !named.contains(route))
        .collect();
    assert!(
        unnamed.is_empty(),
        "routes a viewer may not call that no capability of the pages names: {unnamed:?}"
    );
}

/// A signed-in client for a new account `name` with `role`.
pub async fn signed_in_as(app: &TestApp, name: &str, role: Role) -> reqwest::Client {
    server::users::create_with(
        &app.server.state.db,
        &server::store::audit::Origin::default().with_actor("test"),
        name,
        Some(server::secret::Secret::new(PASSWORD.to_string())),
        role,
    )
    .await
    .expect("create the account");
    let client = client_for(&app.base);
    assert_eq!(app.login_with(&client, name, PASSWORD).await.status(), 200);
    client
}

/// The path with its parameters filled with values that name nothing: the role check
/// comes before the lookup, and nothing is changed by a call let through.
fn concrete(path: &str) -> String {
    path.replace("{id}", "987654")
        .replace("{name}", "no_such_db")
}

#[tokio::test]
async fn each_role_is_refused_below_the_least_role_of_a_route_and_let_through_at_or_above() {
    let app = spawn_app(Options::default()).await;
    app.add_user("admin", PASSWORD).await;
    assert_eq!(app.login("admin", PASSWORD).await.status(), 200);
    let operator = signed_in_as(&app, "olivia", Role::Operator).await;
    let viewer = signed_in_as(&app, "victor", Role::Viewer).await;
    let clients = [
        (Role::Viewer, &viewer),
        (Role::Operator, &operator),
        (Role::Admin, &app.client),
    ];
    let mut checked = 0;
    for (method, path, least) in ACCESS {
        let At(least) = *least else { continue };
        for (role, client) in &clients {
            let url = app.url(&format!("/api/v1{}", concrete(path)));
            let resp = client
                .request(method.parse().expect("method"), &url)
                .json(&serde_json::json!({}))
                .send()
                .await
                .expect("request");
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if role.includes(least) {
                assert!(
                    status != 403 && status != 401,
                    "{role} was refused {method} {path} ({status}: {body})"
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{role} was let through {method} {path}: {body}"
                );
                let err: app::api::ApiError = serde_json::from_str(&body).expect("an ApiError");
                assert_eq!(err.error, ROLE_REQUIRED, "{method} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 80, "{checked} calls");
    // Every session is still signed in (nothing above signed anyone out).
    for (role, client) in clients {
        let me = client
            .get(app.url("/api/v1/auth/me"))
            .send()
            .await
            .expect("me");
        assert_eq!(me.status(), 200, "{role}");
        let me: app::api::Me = me.json().await.expect("me");
        assert_eq!(me.role, role.as_str());
    }
}
