//! The HTTP front: routing of kube-apiserver's paths, content negotiation (JSON, Table,
//! PartialObjectMetadata, aggregated discovery), body decoding, watch streams, warnings and
//! the request log.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};

use crate::auth::{Auth, Presented, RequestInfo, UserInfo};
use crate::cluster::{Cluster, FieldValidation, PatchKind, Sub, WriteOpts};
use crate::faults::{FaultAction, Faults, Injected};
use crate::jsonpath::{self, get};
use crate::openapi::OpenApi;
use crate::query::{Query, Verb};
use crate::resources::{self, ResId, ResourceDef};
use crate::status::{ApiError, ApiResult, go_quote};
use crate::table::{self, IncludeObject};

/// Response bodies; an error aborts the connection (how a dropped connection is injected).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub user_agent: String,
    pub status: u16,
    /// The request carried `dryRun` (it persisted nothing).
    pub dry_run: bool,
    /// The authenticated user ("" when authentication failed).
    pub user: String,
}

impl RequestRecord {
    /// A write that could change state: POST, PUT, PATCH or DELETE without dryRun.
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && !self.dry_run
    }
}

/// State shared by every connection.
pub struct Shared {
    pub cluster: Mutex<Cluster>,
    pub requests: Mutex<Vec<RequestRecord>>,
    /// Wakes the controllers (garbage collector, namespace controller, workloads) after a write.
    pub controllers: Notify,
    pub openapi: OpenApi,
    pub git_version: String,
    pub server_address: Mutex<String>,
    /// Bumped to end every open watch (test control), and at shutdown.
    pub watch_epoch: watch::Sender<u64>,
    /// While true, open watches deliver nothing (test control).
    pub watch_stall: watch::Sender<bool>,
    /// Bumped to end every open connection (the simulator stops listening).
    pub connection_epoch: watch::Sender<u64>,
    pub bookmark_interval: Duration,
    pub auth: Auth,
    pub faults: Faults,
    pub pki: Option<crate::tls::Pki>,
    /// Where pod ports are port-forwarded to: (namespace, pod, port) → `host:port`.
    pub forwards: Mutex<std::collections::HashMap<(String, String, u16), String>>,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn authenticate(&self, certificate: Option<&UserInfo>, authorization: &str) -> ApiResult<UserInfo> {
        let sa = resources::find("", "v1", "serviceaccounts").expect("served");
        self.auth.authenticate(&Presented { certificate, authorization }, |ns, name| {
            self.lock().get(sa, ns, name).ok().map(|o| jsonpath::uid(&o).to_string())
        })
    }
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub struct Reply {
    pub code: u16,
    pub content_type: String,
    pub body: Body,
    pub warnings: Vec<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(code: u16, value: &Value, pretty: bool) -> Reply {
        Reply::typed(code, "application/json", value, pretty)
    }
    fn typed<T: serde::Serialize + ?Sized>(code: u16, content_type: &str, value: &T, pretty: bool) -> Reply {
        let mut bytes =
            if pretty { serde_json::to_vec_pretty(value) } else { serde_json::to_vec(value) }.expect("JSON");
        bytes.push(b'\n');
        Reply::raw(code, content_type, bytes)
    }
    /// A body as Go's `http.Error` writes it (plain text, newline-terminated).
    pub fn text(code: u16, text: &str) -> Reply {
        Reply::raw(code, "text/plain; charset=utf-8", format!("{text}\n").into_bytes())
    }
    pub fn raw(code: u16, content_type: &str, bytes: impl Into<Bytes>) -> Reply {
        Reply { code, content_type: content_type.into(), body: full(bytes), warnings: Vec::new(), headers: Vec::new() }
    }
    pub fn error(e: &ApiError) -> Reply {
        Reply::json(e.code, &e.status(), false)
    }
    fn injected(code: u16, message: Option<&str>, info: &RequestInfo) -> Reply {
        match crate::faults::injected(code, message, info) {
            Injected::Status(e) => Reply::error(&e),
            Injected::TooManyRequests => {
                let mut r = Reply::text(429, "Too many requests, please try again later.");
                r.headers.push(("Retry-After", "1".into()));
                r
            }
        }
    }
    /// A streaming body that never ends by itself (a stalled watch).
    fn stalled(shared: &Shared) -> Reply {
        let mut epoch = shared.watch_epoch.subscribe();
        let stream = futures::stream::once(async move {
            let _ = epoch.changed().await;
            Ok::<_, std::io::Error>(Frame::data(Bytes::new()))
        });
        Reply { body: StreamBody::new(stream).boxed(), ..Reply::raw(200, "application/json", Bytes::new()) }
    }
}

/// What the client accepts, among what the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Json,
    Table(&'static str),
    Metadata(&'static str),
    Discovery,
}

/// Content negotiation over the Accept header (handlers/negotiation/negotiate.go): the first
/// media type the simulator serves wins.
fn negotiate(accept: &str, tables: bool, discovery: bool) -> ApiResult<Want> {
    if accept.trim().is_empty() {
        return Ok(Want::Json);
    }
    for part in accept.split(',') {
        let mut pieces = part.split(';').map(str::trim);
        let media = pieces.next().unwrap_or_default().to_ascii_lowercase();
        let mut params = std::collections::HashMap::new();
        for p in pieces {
            if let Some((k, v)) = p.split_once('=') {
                params.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        if !matches!(media.as_str(), "application/json" | "application/*" | "*/*") {
            continue;
        }
        let (as_, g, v) = (
            params.get("as").map(String::as_str),
            params.get("g").map(String::as_str),
            params.get("v").map(String::as_str),
        );
        match (as_, g, v) {
            (None, _, _) => return Ok(Want::Json),
            (Some("Table"), Some("meta.k8s.io"), Some("v1")) if tables => return Ok(Want::Table("meta.k8s.io/v1")),
            (Some("Table"), Some("meta.k8s.io"), Some("v1beta1")) if tables => {
                return Ok(Want::Table("meta.k8s.io/v1beta1"));
            }
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io"), Some("v1"))
                if tables =>
            {
                return Ok(Want::Metadata("meta.k8s.io/v1"));
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) if discovery => {
                return Ok(Want::Discovery);
            }
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(&["application/json"]))
}

/// What the server knows about a connection before any request.
#[derive(Debug, Default)]
pub struct Connection {
    /// The identity of the verified client certificate (TLS only).
    pub certificate: Option<UserInfo>,
}

/// The filter chain of kube-apiserver in the order it runs (injected faults first):
/// authentication, authorization, then the handlers; every request is logged.
pub async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Connection>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or_default().to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let user_agent = header("user-agent");
    let accept = header("accept");
    let content_type = header("content-type");
    let authorization = header("authorization");
    let query = Query::parse(&raw_query);
    let dry_run = query.0.contains_key("dryRun");
    let watch = matches!(query.first("watch"), Some("1" | "t" | "T" | "true" | "True" | "TRUE"));
    let plan = shared.faults.plan(method.as_str(), &path, watch);
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let info = RequestInfo::parse(&method, &path, &query);
    let user = shared.authenticate(conn.certificate.as_ref(), &authorization);
    let username = user.as_ref().map(|u| u.username.clone()).unwrap_or_default();
    let allowed = user.and_then(|u| shared.auth.authorize(&u, &info).map(|()| u));
    let mut reply = match (&plan.respond, allowed) {
        (Some((code, message)), _) => Reply::injected(*code, message.as_deref(), &info),
        (None, Err(e)) => Reply::error(&e),
        (None, Ok(_)) if plan.watch == Some(FaultAction::StallWatch) => Reply::stalled(&shared),
        (None, Ok(_)) if plan.watch == Some(FaultAction::CloseWatch) => {
            Reply::raw(200, "application/json", Bytes::new())
        }
        (None, Ok(_)) if crate::portforward::is_request(&info) => {
            crate::portforward::serve(&shared, &info, &query, req).await
        }
        (None, Ok(user)) => {
            // staging/src/k8s.io/apiserver/pkg/server/config.go MaxRequestBodyBytes (3 MiB).
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => Bytes::new(),
            };
            let ctx = Ctx {
                shared: &shared,
                user: &user,
                method: &method,
                query: &query,
                user_agent: &user_agent,
                accept: &accept,
                content_type: &content_type,
            };
            if body.len() > 3 * 1024 * 1024 {
                Reply::error(&ApiError {
                    code: 413,
                    reason: "RequestEntityTooLarge",
                    message: "Request entity too large: limit is 3145728".into(),
                    details: None,
                })
            } else {
                match route(&ctx, &path, body).await {
                    Ok(r) => r,
                    Err(e) => Reply::error(&e),
                }
            }
        }
    };
    if reply.code < 400 && !dry_run && matches!(method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        shared.controllers.notify_one();
    }
    shared.requests.lock().unwrap_or_else(|p| p.into_inner()).push(RequestRecord {
        method: method.to_string(),
        path,
        query: raw_query,
        user_agent,
        status: reply.code,
        dry_run,
        user: username,
    });
    if plan.drop_connection {
        reply.body = truncated(reply.body);
    }
    let mut resp = Response::builder().status(reply.code);
    if reply.code != 101 {
        resp = resp.header("Content-Type", &reply.content_type).header("Cache-Control", "no-cache, private");
    }
    for (name, value) in &reply.headers {
        resp = resp.header(*name, value);
    }
    for w in &reply.warnings {
        // staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/warning.go
        resp = resp.header("Warning", format!("299 - {}", go_quote(w)));
    }
    Ok(resp.body(reply.body).expect("valid response"))
}

/// The first half of the body's first chunk, then an error: hyper aborts the connection
/// mid-response.
fn truncated(body: Body) -> Body {
    use futures::StreamExt as _;
    let stream = futures::stream::unfold(Some(body), |state| async move {
        let mut body = state?;
        let first = body.frame().await.and_then(Result::ok).and_then(|f| f.into_data().ok()).unwrap_or_default();
        let half = first.slice(..first.len() / 2);
        Some((Ok(Frame::data(half)), None))
    })
    .chain(futures::stream::once(async {
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "injected fault: connection dropped"))
    }));
    BodyExt::boxed(StreamBody::new(stream))
}

struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    user: &'a UserInfo,
    method: &'a Method,
    query: &'a Query,
    user_agent: &'a str,
    accept: &'a str,
    content_type: &'a str,
}

async fn route(ctx: &Ctx<'_>, path: &str, body: Bytes) -> ApiResult<Reply> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let pretty = ctx.query.pretty().unwrap_or(false);
    let shared = ctx.shared;
    let get_only = |r: Reply| -> ApiResult<Reply> {
        if *ctx.method == Method::GET { Ok(r) } else { Err(ApiError::path_not_found()) }
    };
    match segments.as_slice() {
        ["version"] => get_only(Reply::json(200, &crate::discovery::version(&shared.git_version), pretty)),
        ["healthz"] | ["readyz"] | ["livez"] => get_only(Reply::raw(200, "text/plain; charset=utf-8", "ok")),
        ["api"] => {
            let address = shared.server_address.lock().unwrap_or_else(|p| p.into_inner()).clone();
            get_only(match negotiate(ctx.accept, false, true)? {
                Want::Discovery => {
                    Reply::typed(200, crate::discovery::AGGREGATED_V2, &crate::discovery::aggregated(true), pretty)
                }
                _ => Reply::json(200, &crate::discovery::core_versions(&address), pretty),
            })
        }
        ["apis"] => get_only(match negotiate(ctx.accept, false, true)? {
            Want::Discovery => {
                Reply::typed(200, crate::discovery::AGGREGATED_V2, &crate::discovery::aggregated(false), pretty)
            }
            _ => Reply::json(200, &crate::discovery::group_list(), pretty),
        }),
        ["api", "v1"] => get_only(Reply::json(200, &crate::discovery::resource_list("", "v1").expect("core"), pretty)),
        ["apis", group] => {
            let g = crate::discovery::group(group).ok_or_else(ApiError::path_not_found)?;
            get_only(Reply::json(200, &g, pretty))
        }
        ["apis", group, version] => {
            let list = crate::discovery::resource_list(group, version).ok_or_else(ApiError::path_not_found)?;
            get_only(Reply::json(200, &list, pretty))
        }
        ["openapi", "v3"] => get_only(Reply::json(200, &shared.openapi.index(), pretty)),
        ["openapi", "v3", rest @ ..] => {
            let doc = shared.openapi.document(&rest.join("/")).ok_or_else(ApiError::path_not_found)?;
            get_only(Reply::raw(200, "application/json", doc.to_vec()))
        }
        ["api", "v1", rest @ ..] => resource_request(ctx, "", "v1", rest, body).await,
        ["apis", group, version, rest @ ..] => resource_request(ctx, group, version, rest, body).await,
        _ => Err(ApiError::path_not_found()),
    }
}

/// A parsed resource path.
struct Target<'a> {
    res: ResId,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

fn parse_target<'a>(group: &str, version: &str, rest: &[&'a str]) -> ApiResult<Target<'a>> {
    let find = |plural: &str| resources::find(group, version, plural).ok_or_else(ApiError::path_not_found);
    let namespaced = |plural: &str| find(plural).map(|r| (r, resources::by_id(r).namespaced));
    let t = match rest {
        [plural] => Target { res: find(plural)?, namespace: None, name: None, sub: None },
        ["namespaces", ns, plural, tail @ ..]
            if !(group.is_empty() && tail.is_empty() && ["status", "finalize"].contains(plural)) =>
        {
            let (res, is_namespaced) = namespaced(plural)?;
            if !is_namespaced {
                return Err(ApiError::path_not_found());
            }
            match tail {
                [] => Target { res, namespace: Some(ns), name: None, sub: None },
                [name] => Target { res, namespace: Some(ns), name: Some(name), sub: None },
                [name, sub] => Target { res, namespace: Some(ns), name: Some(name), sub: Some(sub) },
                _ => return Err(ApiError::path_not_found()),
            }
        }
        [plural, name] => {
            let (res, is_namespaced) = namespaced(plural)?;
            if is_namespaced {
                return Err(ApiError::path_not_found());
            }
            Target { res, namespace: None, name: Some(name), sub: None }
        }
        [plural, name, sub] => {
            let (res, is_namespaced) = namespaced(plural)?;
            if is_namespaced {
                return Err(ApiError::path_not_found());
            }
            Target { res, namespace: None, name: Some(name), sub: Some(sub) }
        }
        _ => return Err(ApiError::path_not_found()),
    };
    if let Some(sub) = t.sub {
        let def = resources::by_id(t.res);
        if def.subresource(sub).is_none() {
            return Err(ApiError::path_not_found());
        }
    }
    Ok(t)
}

/// Decode a JSON or YAML request body.
fn parse_body(content_type: &str, body: &[u8]) -> ApiResult<Value> {
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "" => parse_json(body),
        "application/yaml" => serde_saphyr::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}"))),
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode(body).map_err(ApiError::bad_request),
        _ => Err(ApiError::unsupported_media_type(&[
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
        ])),
    }
}

/// JSON with the decoder's wording for syntax errors (Go encoding/json `SyntaxError`).
fn parse_json(body: &[u8]) -> ApiResult<Value> {
    parse_json_as(body, "couldn't get version/kind; json parse error: ")
}

fn parse_json_as(body: &[u8], prefix: &str) -> ApiResult<Value> {
    serde_json::from_slice(body).map_err(|e| {
        let why = if e.is_eof() {
            "unexpected end of JSON input".to_string()
        } else {
            let offset =
                body.split(|b| *b == b'\n').take(e.line().saturating_sub(1)).map(|l| l.len() + 1).sum::<usize>()
                    + e.column().saturating_sub(1);
            let c = body.get(offset).map(|b| *b as char).unwrap_or(' ');
            format!("invalid character {} looking for beginning of value", go_char(c))
        };
        ApiError::bad_request(format!("{prefix}{why}"))
    })
}

fn go_char(c: char) -> String {
    if c == '\'' { "'\\''".into() } else { format!("'{c}'") }
}

async fn resource_request(ctx: &Ctx<'_>, group: &str, version: &str, rest: &[&str], body: Bytes) -> ApiResult<Reply> {
    let t = parse_target(group, version, rest)?;
    let def = resources::by_id(t.res);
    let shared = ctx.shared;
    let q = ctx.query;
    let pretty = q.pretty()?;
    let ns = t.namespace.unwrap_or("");
    let method = ctx.method.clone();
    if def.is_review() {
        return review_request(ctx, def, t.name, &method, body, pretty);
    }
    match (t.name, t.sub, method) {
        (None, None, Method::GET) => {
            q.check(Verb::List)?;
            let want = negotiate(ctx.accept, true, false)?;
            let include = include_object(q)?;
            if q.bool("watch")?.unwrap_or(false) {
                let opts = q.list_opts(true)?;
                def.fields_check(&opts)?;
                return crate::watch::start(
                    shared,
                    t.res,
                    t.namespace.map(str::to_string),
                    opts,
                    q,
                    want_format(want),
                    include,
                )
                .map(|body| Reply { body, ..Reply::raw(200, &content_type_of(want), Bytes::new()) });
            }
            let opts = q.list_opts(false)?;
            def.fields_check(&opts)?;
            let listed = shared.lock().list(t.res, t.namespace, &opts)?;
            Ok(list_reply(def, listed, want, include, pretty))
        }
        (None, None, Method::POST) => {
            require_verb(def, "create")?;
            q.check(Verb::Create)?;
            let opts = write_opts(q, Verb::Create, ctx.user_agent, false)?;
            if t.namespace.is_none() && def.namespaced {
                return Err(ApiError::method_not_supported(def, "create"));
            }
            let obj = parse_body(ctx.content_type, &body)?;
            let w = shared.lock().create(t.res, ns, obj, &opts)?;
            Ok(with_warnings(Reply::json(201, &w.object, pretty), w.warnings))
        }
        (None, None, Method::DELETE) => {
            require_verb(def, "deletecollection")?;
            q.check(Verb::DeleteCollection)?;
            let list = q.list_opts(false)?;
            def.fields_check(&list)?;
            let mut del = q.delete_opts(Verb::DeleteCollection)?;
            merge_delete_body(&mut del, ctx.content_type, &body)?;
            let out = shared.lock().delete_collection(t.res, t.namespace, &list, &del)?;
            Ok(Reply::json(200, &strip_item_types(out), pretty))
        }
        (Some(name), None, Method::GET) => {
            q.check(Verb::Get)?;
            let want = negotiate(ctx.accept, true, false)?;
            let include = include_object(q)?;
            let obj = shared.lock().get(t.res, ns, name)?;
            Ok(object_reply(def, &obj, want, include, pretty))
        }
        (Some(name), None, Method::PUT) | (Some(name), Some("status" | "finalize"), Method::PUT) => {
            q.check(Verb::Update)?;
            let sub = match t.sub {
                Some("status") => Sub::Status,
                Some("finalize") => Sub::Finalize,
                _ => Sub::Main,
            };
            let opts = write_opts(q, Verb::Update, ctx.user_agent, false)?;
            let obj = parse_body(ctx.content_type, &body)?;
            let w = shared.lock().update(t.res, ns, name, obj, sub, &opts)?;
            Ok(with_warnings(Reply::json(if w.created { 201 } else { 200 }, &w.object, pretty), w.warnings))
        }
        (Some(name), None | Some("status"), Method::PATCH) => {
            q.check(Verb::Patch)?;
            let (kind, patch) = parse_patch(ctx.content_type, &body, q.field_validation(Verb::Patch)?)?;
            let opts = write_opts(q, Verb::Patch, ctx.user_agent, kind == PatchKind::Apply)?;
            let force = q.bool("force")?.unwrap_or(false);
            let sub = if t.sub == Some("status") { Sub::Status } else { Sub::Main };
            let w = shared.lock().patch(t.res, ns, name, kind, patch, sub, force, &opts)?;
            Ok(with_warnings(Reply::json(if w.created { 201 } else { 200 }, &w.object, pretty), w.warnings))
        }
        (Some(name), None, Method::DELETE) => {
            q.check(Verb::Delete)?;
            let mut del = q.delete_opts(Verb::Delete)?;
            merge_delete_body(&mut del, ctx.content_type, &body)?;
            let d = shared.lock().delete(t.res, ns, name, &del)?;
            Ok(Reply::json(d.code, &d.body, pretty))
        }
        (Some(name), Some("status"), Method::GET) => {
            q.check(Verb::Get)?;
            let obj = shared.lock().get(t.res, ns, name)?;
            Ok(Reply::json(200, &obj, pretty))
        }
        (Some(name), Some("scale"), method) => scale_request(ctx, t.res, ns, name, method, &body, pretty),
        (Some(name), Some("binding"), Method::POST) => {
            q.check(Verb::Create)?;
            let opts = write_opts(q, Verb::Create, ctx.user_agent, false)?;
            let binding = parse_body(ctx.content_type, &body)?;
            let out = shared.lock().bind(ns, name, &binding, &opts)?;
            Ok(Reply::json(201, &out, pretty))
        }
        (Some(name), Some("eviction"), Method::POST) => {
            q.check(Verb::Create)?;
            let opts = write_opts(q, Verb::Create, ctx.user_agent, false)?;
            let eviction = parse_body(ctx.content_type, &body)?;
            let out = shared.lock().evict(ns, name, &eviction, opts.dry_run)?;
            Ok(Reply::json(201, &out, pretty))
        }
        (Some(name), Some("token"), Method::POST) => {
            q.check(Verb::Create)?;
            write_opts(q, Verb::Create, ctx.user_agent, false)?;
            let request = parse_body(ctx.content_type, &body)?;
            let (out, minted) = shared.lock().token(ns, name, &request)?;
            shared.auth.add_service_account_token(minted);
            Ok(Reply::json(201, &out, pretty))
        }
        (Some(_), Some("portforward"), Method::GET | Method::POST) => {
            // staging/src/k8s.io/apimachinery/pkg/util/httpstream: a port-forward without an
            // upgrade. The streaming protocols themselves come with part 2.
            q.check(Verb::Connect)?;
            Err(ApiError::bad_request("Upgrade request required"))
        }
        (_, _, method) => Err(ApiError::method_not_supported(def, &verb_of(&method, t.name.is_some()))),
    }
}

/// POST of a SelfSubjectReview, SelfSubjectAccessReview or SelfSubjectRulesReview: decoded
/// like any body, answered from the authenticator and authorizer, never stored (201).
fn review_request(
    ctx: &Ctx<'_>,
    def: &'static ResourceDef,
    name: Option<&str>,
    method: &Method,
    body: Bytes,
    pretty: bool,
) -> ApiResult<Reply> {
    if name.is_some() || *method != Method::POST {
        return Err(ApiError::method_not_supported(def, &verb_of(method, name.is_some())));
    }
    ctx.query.check(Verb::Create)?;
    let opts = write_opts(ctx.query, Verb::Create, ctx.user_agent, false)?;
    let mut warnings = Vec::new();
    let review =
        ctx.shared.lock().decode_body(def, parse_body(ctx.content_type, &body)?, opts.validation, &mut warnings)?;
    let auth = &ctx.shared.auth;
    let out = match def.kind {
        "SelfSubjectReview" => auth.self_subject_review(ctx.user),
        "SelfSubjectAccessReview" => auth.self_subject_access_review(ctx.user, &review)?,
        _ => auth.self_subject_rules_review(ctx.user, &review),
    };
    Ok(with_warnings(Reply::json(201, &out, pretty), warnings))
}

fn verb_of(method: &Method, named: bool) -> String {
    match (method.as_str(), named) {
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        (other, _) => return other.to_lowercase(),
    }
    .to_string()
}

fn require_verb(def: &ResourceDef, verb: &str) -> ApiResult<()> {
    if def.supports(verb) { Ok(()) } else { Err(ApiError::method_not_supported(def, verb)) }
}

impl ResourceDef {
    /// The field selector's labels must be supported by the kind.
    fn fields_check(&self, opts: &crate::cluster::ListOpts) -> ApiResult<()> {
        opts.fields.check(self).map_err(ApiError::bad_request)
    }
}

fn with_warnings(mut r: Reply, warnings: Vec<String>) -> Reply {
    r.warnings = warnings;
    r
}

fn write_opts(q: &Query, verb: Verb, user_agent: &str, apply: bool) -> ApiResult<WriteOpts> {
    Ok(WriteOpts {
        dry_run: q.dry_run(verb)?,
        manager: q.field_manager(verb, user_agent, apply)?,
        validation: q.field_validation(verb)?,
    })
}

fn include_object(q: &Query) -> ApiResult<IncludeObject> {
    match q.first("includeObject") {
        None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
        Some("None") => Ok(IncludeObject::None),
        Some("Object") => Ok(IncludeObject::Object),
        Some(other) => Err(ApiError::bad_request(format!("unrecognized includeObject value: {}", go_quote(other)))),
    }
}

/// PATCH bodies by Content-Type (handlers/patch.go): merge and strategic patches must be JSON
/// objects; a JSON patch is checked by the merge engine.
fn parse_patch(content_type: &str, body: &[u8], validation: FieldValidation) -> ApiResult<(PatchKind, Value)> {
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let kind = match media.as_str() {
        "application/json-patch+json" => PatchKind::Json,
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json" => PatchKind::Strategic,
        "application/apply-patch+yaml" => PatchKind::Apply,
        _ => {
            return Err(ApiError::unsupported_media_type(&[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ]));
        }
    };
    let value = if kind == PatchKind::Apply {
        serde_saphyr::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        parse_json_as(body, "error decoding patch: ")?
    };
    let go_kind = match &value {
        Value::Object(_) => None,
        Value::Array(_) => Some("array"),
        Value::String(_) => Some("string"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("bool"),
        Value::Null => Some("null"),
    };
    match (kind, go_kind) {
        (PatchKind::Json, _) | (_, None) => Ok((kind, value)),
        (PatchKind::Merge, Some(_)) if validation == FieldValidation::Ignore => {
            if value.is_array() {
                Ok((kind, value))
            } else {
                Err(ApiError::bad_request("Invalid JSON Patch"))
            }
        }
        (PatchKind::Strategic, Some(k)) if validation == FieldValidation::Ignore => Err(ApiError::bad_request(
            format!("json: cannot unmarshal {k} into Go value of type map[string]interface {{}}"),
        )),
        (_, Some(k)) => Err(ApiError::bad_request(format!(
            "error decoding patch: json: cannot unmarshal {k} into Go value of type map[string]interface {{}}"
        ))),
    }
}

/// A DELETE body (`DeleteOptions`): preconditions, propagation, grace period, dryRun.
fn merge_delete_body(del: &mut crate::cluster::DeleteOpts, content_type: &str, body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let v = parse_body(content_type, body)?;
    if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
        del.grace_period = Some(g);
    }
    if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
        del.propagation = Some(p.to_string());
    }
    if let Some(o) = v.get("orphanDependents").and_then(Value::as_bool) {
        del.orphan_dependents = Some(o);
    }
    if let Some(uid) = get(&v, &["preconditions", "uid"]).and_then(Value::as_str) {
        del.uid_precondition = Some(uid.to_string());
    }
    if let Some(rv) = get(&v, &["preconditions", "resourceVersion"]).and_then(Value::as_str) {
        del.rv_precondition = Some(rv.to_string());
    }
    if let Some(dry) = v.get("dryRun").and_then(Value::as_array) {
        if dry.iter().any(|d| d.as_str() != Some("All")) {
            let values: Vec<String> = dry.iter().map(|d| d.as_str().unwrap_or_default().to_string()).collect();
            let errs = [crate::status::FieldError::not_supported(
                "dryRun",
                crate::status::BadValue::string_slice(&values),
                &["All"],
            )];
            return Err(ApiError::invalid("meta.k8s.io", "DeleteOptions", "", &errs));
        }
        del.dry_run |= !dry.is_empty();
    }
    Ok(())
}

fn scale_request(
    ctx: &Ctx<'_>,
    res: ResId,
    ns: &str,
    name: &str,
    method: Method,
    body: &[u8],
    pretty: bool,
) -> ApiResult<Reply> {
    let def = resources::by_id(res);
    let q = ctx.query;
    match method {
        Method::GET => {
            q.check(Verb::Get)?;
            let obj = ctx.shared.lock().get(res, ns, name)?;
            Ok(Reply::json(200, &Cluster::scale_of(&obj), pretty))
        }
        Method::PUT => {
            q.check(Verb::Update)?;
            let opts = write_opts(q, Verb::Update, ctx.user_agent, false)?;
            let scale = parse_body(ctx.content_type, body)?;
            let out = ctx.shared.lock().update_scale(res, ns, name, scale, &opts)?;
            Ok(Reply::json(200, &out, pretty))
        }
        Method::PATCH => {
            q.check(Verb::Patch)?;
            let (kind, patch) = parse_patch(ctx.content_type, body, q.field_validation(Verb::Patch)?)?;
            let opts = write_opts(q, Verb::Patch, ctx.user_agent, kind == PatchKind::Apply)?;
            let mut cluster = ctx.shared.lock();
            let current = Cluster::scale_of(&*cluster.get(res, ns, name)?);
            // The Scale object has no list-merge keys: every patch type merges it as JSON.
            let patched = match kind {
                PatchKind::Json => {
                    crate::merge::json_patch(&current, &patch).map_err(|e| ApiError::bad_request(e.to_string()))?
                }
                _ => crate::merge::json_merge_patch(&current, &patch),
            };
            let out = cluster.update_scale(res, ns, name, patched, &opts)?;
            Ok(Reply::json(200, &out, pretty))
        }
        other => Err(ApiError::method_not_supported(def, &verb_of(&other, true))),
    }
}

/// Items of a list carry no apiVersion/kind on the wire (the list's type says it).
fn strip_item_types(mut list: Value) -> Value {
    if let Some(items) = list.get_mut("items").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.remove("apiVersion");
            item.remove("kind");
        }
    }
    list
}

fn list_meta(listed: &crate::cluster::Listed) -> Value {
    let mut meta = serde_json::Map::new();
    meta.insert("resourceVersion".into(), listed.resource_version.to_string().into());
    if let Some(c) = &listed.continue_token {
        meta.insert("continue".into(), c.clone().into());
    }
    if let Some(r) = listed.remaining {
        meta.insert("remainingItemCount".into(), r.into());
    }
    Value::Object(meta)
}

fn list_reply(
    def: &ResourceDef,
    listed: crate::cluster::Listed,
    want: Want,
    include: IncludeObject,
    pretty: bool,
) -> Reply {
    let meta = list_meta(&listed);
    match want {
        Want::Table(api_version) => {
            let objects: Vec<&Value> = listed.items.iter().map(|o| o.as_ref()).collect();
            table_reply(def, &objects, meta, include, api_version, pretty)
        }
        Want::Metadata(api_version) => {
            let items: Vec<Value> = listed.items.iter().map(|o| table::partial_metadata(o)).collect();
            let v = json!({ "kind": "PartialObjectMetadataList", "apiVersion": api_version, "metadata": meta, "items": items });
            Reply::typed(200, "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", &v, pretty)
        }
        Want::Json | Want::Discovery => {
            let list = ListBody {
                kind: format!("{}List", def.kind),
                api_version: def.api_version(),
                metadata: meta,
                items: listed.items.iter().map(|o| ListItem(o)).collect(),
            };
            Reply::typed(200, "application/json", &list, pretty)
        }
    }
}

/// A list serialized straight from the stored objects (no copies).
#[derive(serde::Serialize)]
struct ListBody<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<ListItem<'a>>,
}

/// An item of a list: the object without apiVersion and kind (the list's type says them).
struct ListItem<'a>(&'a Value);

impl serde::Serialize for ListItem<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_object() {
            Some(map) => serializer.collect_map(map.iter().filter(|(k, _)| *k != "apiVersion" && *k != "kind")),
            None => self.0.serialize(serializer),
        }
    }
}

fn table_content_type(api_version: &str) -> String {
    format!("application/json;as=Table;v={};g=meta.k8s.io", api_version.rsplit('/').next().unwrap_or("v1"))
}

fn table_reply(
    def: &ResourceDef,
    objects: &[&Value],
    meta: Value,
    include: IncludeObject,
    api_version: &str,
    pretty: bool,
) -> Reply {
    let t = table::table(def, objects, meta, include, true, api_version);
    Reply::typed(200, &table_content_type(api_version), &t, pretty)
}

fn object_reply(def: &ResourceDef, obj: &Value, want: Want, include: IncludeObject, pretty: bool) -> Reply {
    match want {
        Want::Table(api_version) => {
            let meta = json!({ "resourceVersion": jsonpath::meta(obj, "resourceVersion").unwrap_or_default() });
            table_reply(def, &[obj], meta, include, api_version, pretty)
        }
        Want::Metadata(_) => Reply::typed(
            200,
            "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
            &table::partial_metadata(obj),
            pretty,
        ),
        _ => Reply::json(200, obj, pretty),
    }
}

/// How watch events carry their objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFormat {
    Json,
    Table(&'static str),
    Metadata,
}

fn want_format(want: Want) -> WatchFormat {
    match want {
        Want::Table(v) => WatchFormat::Table(v),
        Want::Metadata(_) => WatchFormat::Metadata,
        _ => WatchFormat::Json,
    }
}

fn content_type_of(want: Want) -> String {
    match want {
        Want::Table(v) => table_content_type(v),
        _ => "application/json".into(),
    }
}

/// A streaming body fed by a channel.
pub fn channel_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    StreamBody::new(stream).boxed()
}

/// A watch event line.
pub fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({ "type": kind, "object": object })).expect("JSON");
    line.push(b'\n');
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_kubectl_accept_headers() {
        let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(kubectl_get, true, false).unwrap(), Want::Table("meta.k8s.io/v1"));
        assert_eq!(negotiate(kubectl_get, false, false).unwrap(), Want::Json);
        let discovery = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(negotiate(discovery, false, true).unwrap(), Want::Discovery);
        assert_eq!(negotiate("application/vnd.kubernetes.protobuf", true, false).unwrap_err().code, 406);
        assert_eq!(negotiate("", true, false).unwrap(), Want::Json);
    }

    #[test]
    fn paths_resolve_like_the_installer() {
        let t = parse_target("", "v1", &["namespaces", "default", "configmaps", "x"]).unwrap();
        assert_eq!((t.namespace, t.name, t.sub), (Some("default"), Some("x"), None));
        let t = parse_target("", "v1", &["namespaces", "x", "status"]).unwrap();
        assert_eq!((t.namespace, t.name, t.sub), (None, Some("x"), Some("status")));
        assert!(parse_target("", "v1", &["configmaps", "x"]).is_err());
        assert!(parse_target("apps", "v1", &["namespaces", "d", "statefulsets", "x", "bogus"]).is_err());
    }

    #[test]
    fn json_syntax_errors_read_like_go() {
        assert_eq!(
            parse_json(b"{x").unwrap_err().message,
            "couldn't get version/kind; json parse error: invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            parse_json(b"{").unwrap_err().message,
            "couldn't get version/kind; json parse error: unexpected end of JSON input"
        );
    }
}
