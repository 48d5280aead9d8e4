//! Routes: `POST /items`, `POST /recall`, `POST /stats`, `POST /events`, `GET /items/{id}`, `GET /health`,
//! `GET /metrics`. Bodies are JSON; every refusal is a 4xx with `{"error": "..."}`. Model and store
//! work runs on the blocking pool so slow requests do not stall the reactor.

use crate::app::{App, Hit, Ingested, NewItem, Query, Refusal};
use crate::images;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use std::sync::Arc;
use std::time::Instant;

/// Every refusal's body.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct ErrorBody {
    error: String,
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": msg.into() }))).into_response()
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Bad(m) => refuse(StatusCode::BAD_REQUEST, m),
            Refusal::Unauthorized => {
                let mut r = refuse(StatusCode::UNAUTHORIZED, "this route needs `Authorization: Bearer <token>`");
                r.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            Refusal::NotFound(m) => refuse(StatusCode::NOT_FOUND, m),
            Refusal::Conflict(m) => refuse(StatusCode::CONFLICT, m),
            Refusal::Busy(m) => refuse(StatusCode::SERVICE_UNAVAILABLE, m),
            Refusal::Internal(m) => {
                // The detail (store paths, library errors) goes to the server's log, not the client.
                eprintln!("internal error: {m}");
                refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error (details in the server log)")
            }
        }
    }
}

/// The body, or the refusal to send (counted as a failed request of `endpoint`). Keeps axum's
/// status: 400 syntax, 413 too large, 415 content type, 422 wrong fields.
fn body<T>(app: &App, endpoint: &'static str, b: Result<Json<T>, JsonRejection>) -> Result<T, Box<Response>> {
    b.map(|Json(b)| b).map_err(|r| {
        app.metrics.observe(endpoint, 0.0, false);
        Box::new(refuse(r.status(), r.body_text()))
    })
}

/// Refuses a write without the configured bearer token (no token configured: loopback only).
fn authorised(app: &App, endpoint: &'static str, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match &app.cfg.token {
        Some(t) if !t.admits(headers.get(axum::http::header::AUTHORIZATION).map(|v| v.as_bytes())) => {
            app.metrics.observe(endpoint, 0.0, false);
            Err(Box::new(Refusal::Unauthorized.into_response()))
        }
        _ => Ok(()),
    }
}

/// Runs `f` on the blocking pool and times it under `endpoint`, within the concurrency and time
/// limits: over the concurrency limit it answers 503 at once; past the time limit 503 (the work
/// keeps its slot until it finishes, so slow work cannot pile up).
async fn timed<T: serde::Serialize + Send + 'static>(
    app: Arc<App>,
    endpoint: &'static str,
    ok: StatusCode,
    f: impl FnOnce(&App) -> Result<T, Refusal> + Send + 'static,
) -> Response {
    let t = Instant::now();
    let Ok(permit) = app.inflight.clone().try_acquire_owned() else {
        app.metrics.observe(endpoint, 0.0, false);
        return Refusal::Busy(format!("over {} requests in flight; retry", app.cfg.limits.max_concurrent)).into_response();
    };
    let a = app.clone();
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(&a)
    });
    let limit = app.cfg.limits.request_timeout;
    let resp = match tokio::time::timeout(limit, work).await {
        Ok(Ok(Ok(v))) => (ok, Json(v)).into_response(),
        Ok(Ok(Err(r))) => r.into_response(),
        Ok(Err(e)) => Refusal::Internal(format!("worker failed: {e}")).into_response(),
        Err(_) => Refusal::Busy(format!("no answer within {:.1} s", limit.as_secs_f64())).into_response(),
    };
    app.metrics.observe(endpoint, t.elapsed().as_secs_f64(), resp.status().is_success());
    resp
}

/// A new item: an id, text (title and/or text) and optionally an image.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    /// The image file's bytes, base64.
    #[serde(default)]
    image_base64: Option<String>,
    /// Or a path relative to the server's image root (only when one is configured).
    #[serde(default)]
    image_path: Option<String>,
}

fn decode_image(a: &App, b: &ItemBody) -> Result<Option<image::DynamicImage>, Refusal> {
    let limits = &a.cfg.limits;
    match (&b.image_base64, &b.image_path) {
        (Some(_), Some(_)) => Err(Refusal::Bad("give image_base64 or image_path, not both".into())),
        (Some(data), None) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| Refusal::Bad(format!("image_base64 is not base64: {e}")))?;
            images::decode(&bytes, limits, &format!("image of `{}`", b.id)).map(Some)
        }
        (None, Some(p)) => images::read_under(a.cfg.image_root.as_deref(), p, limits).map(Some),
        (None, None) => Ok(None),
    }
}

#[utoipa::path(post, path = "/items", request_body = ItemBody, security(("bearer" = [])),
    responses((status = 201, description = "durable and indexed", body = Ingested),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, description = "a trained catalogue item", body = ErrorBody),
        (status = 413, description = "body over the limit"), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn post_item(State(app): State<Arc<App>>, headers: HeaderMap, b: Result<Json<ItemBody>, JsonRejection>) -> Response {
    if let Err(r) = authorised(&app, "items", &headers) {
        return *r;
    }
    let b = match body(&app, "items", b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    timed(app, "items", StatusCode::CREATED, move |a| -> Result<Ingested, Refusal> {
        let image = decode_image(a, &b)?;
        let text = [b.title.trim(), b.text.trim()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
        a.ingest(NewItem { id: b.id, text, image })
    })
    .await
}

/// A recall query: a user, recent items, a vector, or any mix (their unit vectors are summed).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RecallBody {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    items: Vec<String>,
    #[serde(default)]
    vector: Option<Vec<f32>>,
    #[serde(default = "ten")]
    k: usize,
    /// Leave out the user's training items and the request's items (default true).
    #[serde(default = "yes")]
    exclude_seen: bool,
}
fn ten() -> usize {
    10
}
fn yes() -> bool {
    true
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct RecallAnswer {
    items: Vec<Hit>,
}

#[utoipa::path(post, path = "/recall", request_body = RecallBody,
    responses((status = 200, body = RecallAnswer), (status = 400, body = ErrorBody), (status = 404, description = "unknown user or item", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn post_recall(State(app): State<Arc<App>>, b: Result<Json<RecallBody>, JsonRejection>) -> Response {
    let b = match body(&app, "recall", b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    timed(app, "recall", StatusCode::OK, move |a| {
        a.recall(Query { user: b.user, items: b.items, vector: b.vector, k: b.k, exclude_seen: b.exclude_seen })
            .map(|items| RecallAnswer { items })
    })
    .await
}

/// Increments of an item's statistics.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StatsBody {
    id: String,
    #[serde(default)]
    exposures: u64,
    #[serde(default)]
    clicks: u64,
}

/// An item as stored (`gate` is null for models without a gate).
#[derive(serde::Serialize, utoipa::ToSchema)]
struct ItemView {
    id: String,
    key: u32,
    version: u64,
    exposures: u64,
    clicks: u64,
    gate: f32,
    has_text: bool,
    has_image: bool,
    created_at: i64,
    catalogue: bool,
    indexed: bool,
    /// Clicks the item's near-line id row has learned from (new items of two-view models).
    learned_clicks: u64,
}

fn view(a: &App, r: fuserec_index::ItemRecord) -> ItemView {
    let indexed = a.index.vector(&r).is_ok_and(|v| v.is_some());
    ItemView {
        id: r.id,
        key: r.key,
        version: r.version,
        exposures: r.exposures,
        clicks: r.clicks,
        gate: r.gate,
        has_text: r.has_text,
        has_image: r.has_image,
        created_at: r.created_at,
        catalogue: r.model_row.is_some(),
        indexed,
        learned_clicks: r.id_steps,
    }
}

#[utoipa::path(post, path = "/stats", request_body = StatsBody, security(("bearer" = [])),
    responses((status = 200, body = ItemView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn post_stats(State(app): State<Arc<App>>, headers: HeaderMap, b: Result<Json<StatsBody>, JsonRejection>) -> Response {
    if let Err(r) = authorised(&app, "stats", &headers) {
        return *r;
    }
    let b = match body(&app, "stats", b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    timed(app, "stats", StatusCode::OK, move |a| a.add_stats(&b.id, b.exposures, b.clicks).map(|r| view(a, r))).await
}

/// Feedback events, applied in one durable transaction.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EventsBody {
    events: Vec<crate::app::Event>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct EventsAnswer {
    /// Events applied.
    applied: usize,
    /// Every item the events touched, as stored now.
    items: Vec<ItemView>,
}

#[utoipa::path(post, path = "/events", request_body = EventsBody, security(("bearer" = [])),
    responses((status = 200, description = "durable, re-indexed", body = EventsAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "unknown user or item: nothing written", body = ErrorBody), (status = 413, description = "body over the limit"),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn post_events(State(app): State<Arc<App>>, headers: HeaderMap, b: Result<Json<EventsBody>, JsonRejection>) -> Response {
    if let Err(r) = authorised(&app, "events", &headers) {
        return *r;
    }
    let b = match body(&app, "events", b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    timed(app, "events", StatusCode::OK, move |a| {
        let recs = a.events(&b.events)?;
        Ok(EventsAnswer { applied: b.events.len(), items: recs.into_iter().map(|r| view(a, r)).collect() })
    })
    .await
}

#[utoipa::path(get, path = "/items/{id}", params(("id" = String, Path, description = "item id")),
    responses((status = 200, body = ItemView), (status = 404, body = ErrorBody)))]
async fn get_item(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    timed(app, "get_item", StatusCode::OK, move |a| match a.store.get(&id)? {
        Some(r) => Ok(view(a, r)),
        None => Err(Refusal::NotFound(format!("unknown item `{id}`"))),
    })
    .await
}

#[utoipa::path(get, path = "/health", responses((status = 200, description = "`{status, items, indexed, dim, model}`; `model`: the artifact's source (experiment, model, seed, dataset, split), version, revision and time")))]
async fn health(State(app): State<Arc<App>>) -> Response {
    let (stored, indexed) = app.counts();
    let model = app.model().provenance.clone();
    Json(serde_json::json!({ "status": "ok", "items": stored, "indexed": indexed, "dim": app.dim, "model": model })).into_response()
}

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let (stored, indexed) = app.counts();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render(stored, indexed)).into_response()
}

/// The OpenAPI description, generated from the routes' types and annotations above.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "fuserec-serve", description = "Recall over a trained two-tower model with near-line ingestion of new items; see docs/SERVING.md."),
    paths(post_item, post_recall, post_stats, post_events, get_item, health, metrics),
    components(schemas(ItemBody, RecallBody, StatsBody, EventsBody, crate::app::Event, EventsAnswer, RecallAnswer, ItemView, Ingested, Hit, ErrorBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

async fn openapi() -> Response {
    use utoipa::OpenApi;
    match ApiDoc::openapi().to_json() {
        Ok(j) => ([(axum::http::header::CONTENT_TYPE, "application/json")], j).into_response(),
        Err(e) => Refusal::Internal(format!("openapi: {e}")).into_response(),
    }
}

/// The HTTP routes over `app`, with body-size limit, auth on write routes and OpenAPI.
pub fn router(app: Arc<App>) -> Router {
    let limit = app.cfg.limits.max_body_bytes;
    Router::new()
        .route("/items", post(post_item))
        .route("/items/{id}", get(get_item))
        .route("/recall", post(post_recall))
        .route("/stats", post(post_stats))
        .route("/events", post(post_events))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}
