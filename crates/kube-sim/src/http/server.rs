//! The HTTP front: routing of kube-apiserver's paths, content negotiation (JSON, Table,
//! PartialObjectMetadata, aggregated discovery), body decoding, watch streams, warnings and
//! the request log.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use crate::api::table::{self, IncludeObject};
use crate::auth::impersonation;
use crate::auth::{RequestInfo, UserInfo, forbidden, sanitize};
use crate::http::body::{merge_delete_body, parse_body, parse_patch};
use crate::http::faults::{FaultAction, Injected};
use crate::http::negotiate::{Want, negotiate};
use crate::http::reply::{Body, Reply};
use crate::http::watch::WatchFormat;
use crate::model::jsonpath;
use crate::model::options::{PatchKind, Sub, WriteOpts};
use crate::model::query::{Query, Verb};
use crate::model::resources::{self, ResId, ResourceDef};
use crate::model::status::{ApiError, ApiResult, go_quote};
use crate::registry::{Cluster, Listed, decode};
use crate::shared::{RequestRecord, Shared};

/// What the server knows about a connection before any request.
#[derive(Debug, Default)]
pub struct Connection {
    /// The identity of the verified client certificate (TLS only).
    pub certificate: Option<UserInfo>,
}

/// The filter chain of kube-apiserver in the order it runs (injected faults first):
/// authentication, impersonation, authorization, then the handlers; every request is logged
/// (with the user it ran as, and who impersonated it).
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
    let request_uri = if raw_query.is_empty() { path.clone() } else { format!("{path}?{raw_query}") };
    let mut impersonator = String::new();
    let user = match shared.authenticate(conn.certificate.as_ref(), &authorization) {
        Err(e) => Err(Reply::error(&e)),
        Ok(requester) => match impersonate(&shared, &requester, req.headers(), &request_uri) {
            Ok(Some(user)) => {
                impersonator = requester.username;
                Ok(user)
            }
            Ok(None) => Ok(requester),
            Err(reply) => {
                impersonator = requester.username;
                Err(reply)
            }
        },
    };
    let username = user.as_ref().map(|u| u.username.clone()).unwrap_or_else(|_| std::mem::take(&mut impersonator));
    let allowed = user.and_then(|u| match shared.with_rbac(|rbac| shared.auth.authorize(&u, &info, rbac)) {
        Ok(()) => Ok(u),
        Err(e) => Err(nosniff(Reply::error(&e))),
    });
    let mut reply = match (&plan.respond, allowed) {
        (Some((code, message)), _) => injected_reply(*code, message.as_deref(), &info),
        (None, Err(reply)) => reply,
        (None, Ok(_)) if plan.watch == Some(FaultAction::StallWatch) => stalled_reply(&shared),
        (None, Ok(_)) if plan.watch == Some(FaultAction::CloseWatch) => {
            Reply::raw(200, "application/json", Bytes::new())
        }
        (None, Ok(_)) if crate::http::portforward::is_request(&info) => {
            crate::http::portforward::serve(&shared, &info, &query, req).await
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
        impersonator,
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

/// The impersonation filter (staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go
/// `WithImpersonation`, v1.33): without `Impersonate-*` headers the requester goes on as
/// itself; otherwise each requested value must be allowed to the requester with verb
/// `impersonate` (the first that is not: `responsewriters.Forbidden`, 403 `users "bob" is
/// forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster
/// scope`), and the request then runs as the impersonated user. Groups, extras or a uid
/// without a user: `responsewriters.InternalError`, a plain-text 500 `Internal Server Error:
/// "<request URI>": requested [{Group  devs    }] without impersonating a user`.
fn impersonate(
    shared: &Shared,
    requester: &UserInfo,
    headers: &hyper::HeaderMap,
    request_uri: &str,
) -> Result<Option<UserInfo>, Reply> {
    let requested = impersonation::requested(headers).map_err(|e| {
        let text = sanitize(&format!("Internal Server Error: {}: {e}", go_quote(request_uri)));
        nosniff(Reply::text(500, &text))
    })?;
    if requested.is_empty() {
        return Ok(None);
    }
    for r in &requested {
        let attributes = r.attributes();
        let decision = shared.with_rbac(|rbac| shared.auth.decide(requester, &attributes, rbac));
        if !decision.allowed {
            return Err(nosniff(Reply::error(&forbidden(requester, &attributes, &decision.reason))));
        }
    }
    Ok(Some(impersonation::impersonated_user(&requested)))
}

/// responsewriters' `X-Content-Type-Options: nosniff` on the filters' refusals.
fn nosniff(mut reply: Reply) -> Reply {
    reply.headers.push(("X-Content-Type-Options", "nosniff".into()));
    reply
}

fn injected_reply(code: u16, message: Option<&str>, info: &RequestInfo) -> Reply {
    match crate::http::faults::injected(code, message, info) {
        Injected::Status(e) => Reply::error(&e),
        Injected::TooManyRequests => {
            let mut r = Reply::text(429, "Too many requests, please try again later.");
            r.headers.push(("Retry-After", "1".into()));
            r
        }
    }
}
/// A streaming body that never ends by itself (a stalled watch).
fn stalled_reply(shared: &Shared) -> Reply {
    let mut epoch = shared.watch_epoch.subscribe();
    let stream = futures::stream::once(async move {
        let _ = epoch.changed().await;
        Ok::<_, std::io::Error>(Frame::data(Bytes::new()))
    });
    Reply { body: StreamBody::new(stream).boxed(), ..Reply::raw(200, "application/json", Bytes::new()) }
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
        ["version"] => get_only(Reply::json(200, &crate::api::discovery::version(&shared.git_version), pretty)),
        ["healthz"] | ["readyz"] | ["livez"] => get_only(Reply::raw(200, "text/plain; charset=utf-8", "ok")),
        ["api"] => {
            let address = shared.server_address.lock().unwrap_or_else(|p| p.into_inner()).clone();
            get_only(match negotiate(ctx.accept, false, true)? {
                Want::Discovery => Reply::typed(
                    200,
                    crate::api::discovery::AGGREGATED_V2,
                    &crate::api::discovery::aggregated(true),
                    pretty,
                ),
                _ => Reply::json(200, &crate::api::discovery::core_versions(&address), pretty),
            })
        }
        ["apis"] => get_only(match negotiate(ctx.accept, false, true)? {
            Want::Discovery => Reply::typed(
                200,
                crate::api::discovery::AGGREGATED_V2,
                &crate::api::discovery::aggregated(false),
                pretty,
            ),
            _ => Reply::json(200, &crate::api::discovery::group_list(), pretty),
        }),
        ["api", "v1"] => {
            get_only(Reply::json(200, &crate::api::discovery::resource_list("", "v1").expect("core"), pretty))
        }
        ["apis", group] => {
            let g = crate::api::discovery::group(group).ok_or_else(ApiError::path_not_found)?;
            get_only(Reply::json(200, &g, pretty))
        }
        ["apis", group, version] => {
            let list = crate::api::discovery::resource_list(group, version).ok_or_else(ApiError::path_not_found)?;
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
                let opts = q.list_opts(true, shared.watch_list_enabled())?;
                def.fields_check(&opts)?;
                return crate::http::watch::start(
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
            let opts = q.list_opts(false, shared.watch_list_enabled())?;
            def.fields_check(&opts)?;
            let listed = shared.lock().list(t.res, t.namespace, &opts)?;
            Ok(list_reply(def, listed, want, include, pretty))
        }
        (None, None, Method::POST) => {
            require_verb(def, "create")?;
            q.check(Verb::Create)?;
            let opts = write_opts(q, Verb::Create, ctx.user_agent, false)?;
            if t.namespace.is_none() && def.namespaced {
                return Err(ApiError::method_not_allowed());
            }
            let obj = parse_body(ctx.content_type, &body)?;
            let w = shared.lock().create(t.res, ns, obj, &opts)?;
            Ok(with_warnings(Reply::json(201, &w.object, pretty), w.warnings))
        }
        (None, None, Method::DELETE) => {
            require_verb(def, "deletecollection")?;
            q.check(Verb::DeleteCollection)?;
            let list = q.list_opts(false, shared.watch_list_enabled())?;
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
            patch_route_consumes(ctx.content_type)?;
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
            // upgrade (the upgrades are served by crate::http::portforward before routing).
            q.check(Verb::Connect)?;
            Err(ApiError::bad_request("Upgrade request required"))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// POST of a SelfSubjectReview, SelfSubjectAccessReview, SelfSubjectRulesReview or
/// SubjectAccessReview: decoded
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
        return Err(ApiError::method_not_allowed());
    }
    ctx.query.check(Verb::Create)?;
    let opts = write_opts(ctx.query, Verb::Create, ctx.user_agent, false)?;
    let mut warnings = Vec::new();
    let review = decode::body(def, parse_body(ctx.content_type, &body)?, opts.validation, &mut warnings)?;
    let shared = ctx.shared;
    let auth = &shared.auth;
    let out = match def.kind {
        "SelfSubjectReview" => auth.self_subject_review(ctx.user),
        "SelfSubjectAccessReview" => shared.with_rbac(|r| auth.self_subject_access_review(ctx.user, &review, r))?,
        "SubjectAccessReview" => shared.with_rbac(|r| auth.subject_access_review(&review, r))?,
        _ => shared.with_rbac(|r| auth.self_subject_rules_review(ctx.user, &review, r)),
    };
    Ok(with_warnings(Reply::json(201, &out, pretty), warnings))
}

/// go-restful's route match on Content-Type (route.go `matchesContentType`: parameters cut
/// off, an empty type taken as application/octet-stream for a PATCH).
fn patch_route_consumes(content_type: &str) -> ApiResult<()> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let consumed = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ];
    if consumed.contains(&media) { Ok(()) } else { Err(ApiError::route_unsupported_media_type()) }
}

fn require_verb(def: &ResourceDef, verb: &str) -> ApiResult<()> {
    if def.supports(verb) { Ok(()) } else { Err(ApiError::method_not_allowed()) }
}

impl ResourceDef {
    /// The field selector's labels must be supported by the kind.
    fn fields_check(&self, opts: &crate::model::options::ListOpts) -> ApiResult<()> {
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

fn scale_request(
    ctx: &Ctx<'_>,
    res: ResId,
    ns: &str,
    name: &str,
    method: Method,
    body: &[u8],
    pretty: bool,
) -> ApiResult<Reply> {
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
            patch_route_consumes(ctx.content_type)?;
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
        _ => Err(ApiError::method_not_allowed()),
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

fn list_meta(listed: &Listed) -> Value {
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

fn list_reply(def: &ResourceDef, listed: Listed, want: Want, include: IncludeObject, pretty: bool) -> Reply {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_like_the_installer() {
        let t = parse_target("", "v1", &["namespaces", "default", "configmaps", "x"]).unwrap();
        assert_eq!((t.namespace, t.name, t.sub), (Some("default"), Some("x"), None));
        let t = parse_target("", "v1", &["namespaces", "x", "status"]).unwrap();
        assert_eq!((t.namespace, t.name, t.sub), (None, Some("x"), Some("status")));
        assert!(parse_target("", "v1", &["configmaps", "x"]).is_err());
        assert!(parse_target("apps", "v1", &["namespaces", "d", "statefulsets", "x", "bogus"]).is_err());
    }
}
