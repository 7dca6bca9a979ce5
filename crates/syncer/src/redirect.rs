//! The Service create redirect on the API endpoint (loft-sh/vcluster v0.15.7
//! `pkg/server/filters/service.go` `WithServiceCreateRedirect`): a Service
//! created through :8443 is created on the host first, then in the virtual cluster with the
//! host's `clusterIP`, `clusterIPs`, ports (allocated node ports) and `healthCheckNodePort`,
//! as the caller, so the virtual ClusterIP is one the host routes. If the virtual create fails
//! the host Service is deleted again. An update that switches a virtual `ExternalName` Service
//! to a type with a ClusterIP changes the host Service first in the same way.
//!
//! Requests this does not understand (a non-JSON body, dry runs) pass through unchanged.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, Client};
use serde::Deserialize as _;

use crate::proxy::{
    BoxError, Caller, InterceptError, InterceptedRequest, Interceptor, ProxyBody, RequestInfo, Upstream,
    status_response,
};
use crate::recent::RecentCreates;
use crate::translate::{self, services};

/// The interceptor: host client and the translation of names, labels and selectors.
#[derive(Clone)]
pub struct ServiceRedirect {
    host: Client,
    ctx: translate::Context,
    /// Where the host Services created here are recorded, so the Services controller waits for
    /// its host watch instead of creating them again.
    recent: Arc<RecentCreates>,
}

impl ServiceRedirect {
    pub fn new(host: Client, ctx: translate::Context, recent: Arc<RecentCreates>) -> Arc<ServiceRedirect> {
        Arc::new(ServiceRedirect { host, ctx, recent })
    }
}

/// upstream `pkg/util/random` alphabet (`k8s.io/apimachinery/pkg/util/rand`'s, no vowels).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn body(bytes: impl Into<Bytes>) -> ProxyBody {
    http_body_util::Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

fn is_json(request: &Request<Bytes>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json"))
}

fn kube_status(e: &kube::Error) -> Response<ProxyBody> {
    match e {
        kube::Error::Api(s) => status_response(
            StatusCode::from_u16(s.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &s.reason,
            &s.message,
        ),
        other => status_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("Internal error occurred: {other}"),
        ),
    }
}

fn internal(message: &str, source: impl std::error::Error + Send + Sync + 'static) -> InterceptError {
    InterceptError { message: message.into(), source: Some(Box::new(source)) }
}

async fn send(
    upstream: &Upstream,
    caller: &Caller,
    request: Request<Bytes>,
) -> Result<Response<ProxyBody>, InterceptError> {
    let request = request.map(body);
    let response = upstream.send(caller, request).await.map_err(|e| internal("forwarding the Service request", e))?;
    Ok(response.map(|b| b.map_err(BoxError::from).boxed_unsync()))
}

/// An intercepted request whose body is JSON.
struct Parsed {
    info: RequestInfo,
    caller: Caller,
    request: Request<Bytes>,
    json: serde_json::Value,
}

/// The request and its JSON body; the request back unchanged when the body is not JSON.
// Moved once per request: boxing the request back would only add an allocation.
#[allow(clippy::result_large_err)]
fn parse(request: InterceptedRequest) -> Result<Parsed, InterceptedRequest> {
    match serde_json::from_slice::<serde_json::Value>(request.request.body()) {
        Ok(json) => {
            let InterceptedRequest { info, caller, request } = request;
            Ok(Parsed { info, caller, request, json })
        }
        Err(_) => Err(request),
    }
}

/// The request with `json` as its body.
fn with_body(request: Request<Bytes>, json: &serde_json::Value) -> Request<Bytes> {
    let (parts, _) = request.into_parts();
    Request::from_parts(parts, Bytes::from(json.to_string()))
}

impl ServiceRedirect {
    async fn create(
        &self,
        request: InterceptedRequest,
        upstream: Upstream,
    ) -> Result<Response<ProxyBody>, InterceptError> {
        let Parsed { info, caller, request, mut json } = match parse(request) {
            Ok(parsed) => parsed,
            Err(InterceptedRequest { caller, request, .. }) => return send(&upstream, &caller, request).await,
        };
        let Some(metadata) = json.as_object_mut().map(|o| o.entry("metadata").or_insert_with(|| serde_json::json!({})))
        else {
            return send(&upstream, &caller, request).await;
        };
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("namespace".into(), info.namespace.clone().into());
            let name = metadata.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_owned();
            let generate = metadata.get("generateName").and_then(|n| n.as_str()).unwrap_or_default().to_owned();
            if name.is_empty() && !generate.is_empty() {
                let suffix: String = (0..5).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect();
                metadata.insert("name".into(), format!("{generate}{suffix}").into());
            }
        }
        let virtual_service = match Service::deserialize(&json) {
            Ok(s) => s,
            // The virtual API server words the refusal.
            Err(_) => return send(&upstream, &caller, request).await,
        };
        let name = virtual_service.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            return send(&upstream, &caller, request).await;
        }
        let host = services::to_host_intercepted(&self.ctx, &virtual_service);
        let api: Api<Service> = Api::namespaced(self.host.clone(), self.ctx.host_namespace());
        let pp = PostParams { dry_run: false, field_manager: Some(crate::controllers::shared::FIELD_MANAGER.into()) };
        let created = match crate::controllers::writes::create_lean(&api, &pp, &host).await {
            Ok(created) => {
                self.recent.record::<Service>(created.metadata.name.as_deref().unwrap_or_default());
                created
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                return Ok(status_response(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    &format!("services \"{name}\" already exists"),
                ));
            }
            Err(e) => {
                tracing::info!("Error creating service in physical cluster: {e}");
                return Ok(kube_status(&e));
            }
        };
        self.finish(&upstream, &caller, request, json, &created, &format!("creating service {}/{name}", info.namespace))
            .await
    }

    async fn delete_host(&self, created: &Service) {
        let api: Api<Service> = Api::namespaced(self.host.clone(), self.ctx.host_namespace());
        let dp = DeleteParams {
            preconditions: created
                .metadata
                .uid
                .clone()
                .map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
            ..DeleteParams::default()
        };
        if let Err(e) = api.delete(created.metadata.name.as_deref().unwrap_or_default(), &dp).await {
            tracing::warn!("cannot delete the host service {:?}: {e}", created.metadata.name);
        }
    }

    /// `updateService`: only a switch away from `ExternalName` that leaves the ClusterIP to the
    /// server is handled here; everything else passes through.
    async fn update(
        &self,
        request: InterceptedRequest,
        upstream: Upstream,
    ) -> Result<Response<ProxyBody>, InterceptError> {
        let Parsed { info, caller, request, json } = match parse(request) {
            Ok(parsed) => parsed,
            Err(InterceptedRequest { caller, request, .. }) => return send(&upstream, &caller, request).await,
        };
        let Ok(new) = Service::deserialize(&json) else {
            return send(&upstream, &caller, request).await;
        };
        // The stored virtual Service, read as the syncer.
        let get = Request::get(format!("/api/v1/namespaces/{}/services/{}", info.namespace, info.name))
            .body(body(Bytes::new()))
            .map_err(|e| internal("building a request", e))?;
        let stored = upstream.send_as_admin(get).await.map_err(|e| internal("reading the virtual Service", e))?;
        if !stored.status().is_success() {
            return send(&upstream, &caller, request).await;
        }
        let bytes =
            stored.into_body().collect().await.map_err(|e| internal("reading the virtual Service", e))?.to_bytes();
        let Ok(old) = serde_json::from_slice::<Service>(&bytes) else {
            return send(&upstream, &caller, request).await;
        };
        let spec = |s: &Service| s.spec.clone().unwrap_or_default();
        let (os, ns) = (spec(&old), spec(&new));
        let type_of =
            |s: &k8s_openapi::api::core::v1::ServiceSpec| s.type_.clone().unwrap_or_else(|| "ClusterIP".into());
        let switching = type_of(&os) == "ExternalName"
            && new.metadata.resource_version == old.metadata.resource_version
            && type_of(&ns) != type_of(&os)
            && ns.cluster_ip.as_deref().unwrap_or_default().is_empty();
        if !switching {
            return send(&upstream, &caller, request).await;
        }
        let hapi: Api<Service> = Api::namespaced(self.host.clone(), self.ctx.host_namespace());
        let host_name = self.ctx.translator.host_name(&info.namespace, &info.name);
        let patch = serde_json::json!({ "spec": { "type": type_of(&ns), "ports": ns.ports, "externalName": null } });
        let patched = match hapi.patch(&host_name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(patched) => patched,
            Err(kube::Error::Api(s)) if s.code == 404 => {
                return Ok(status_response(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("services \"{}\" not found", info.name),
                ));
            }
            Err(e) => return Ok(kube_status(&e)),
        };
        // A failed virtual update deletes the host Service; the syncer recreates it from the
        // virtual one.
        self.finish(
            &upstream,
            &caller,
            request,
            json,
            &patched,
            &format!("updating service {}/{}", info.namespace, info.name),
        )
        .await
    }

    /// The virtual write with the host's allocation (`host`) taken into the body; when it
    /// fails, the host Service is deleted again.
    async fn finish(
        &self,
        upstream: &Upstream,
        caller: &Caller,
        request: Request<Bytes>,
        mut json: serde_json::Value,
        host: &Service,
        what: &str,
    ) -> Result<Response<ProxyBody>, InterceptError> {
        services::take_allocation(&mut json, host);
        let response = send(upstream, caller, with_body(request, &json)).await;
        if !response.as_ref().is_ok_and(|r| r.status().is_success()) {
            tracing::info!("Error {what} in virtual cluster; deleting the host service");
            self.delete_host(host).await;
        }
        response
    }
}

impl Interceptor for ServiceRedirect {
    fn wants(&self, info: &RequestInfo, _caller: &Caller) -> bool {
        info.is_resource_request
            && info.api_prefix == "api"
            && info.api_group.is_empty()
            && info.api_version == "v1"
            && info.resource == "services"
            && info.subresource.is_empty()
            && !info.namespace.is_empty()
            && !info.dry_run
            && (info.verb == "create" || info.verb == "update")
    }

    fn handle(
        &self,
        request: InterceptedRequest,
        upstream: Upstream,
    ) -> BoxFuture<'static, Result<Response<ProxyBody>, InterceptError>> {
        let this = self.clone();
        Box::pin(async move {
            if !is_json(&request.request) {
                let InterceptedRequest { caller, request, .. } = request;
                return send(&upstream, &caller, request).await;
            }
            if request.info.verb == "create" {
                this.create(request, upstream).await
            } else {
                this.update(request, upstream).await
            }
        })
    }
}
