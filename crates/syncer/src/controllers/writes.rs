//! Writes whose answer the syncer does not read in full. They are sent as kube's `Api` sends
//! them (kube-client 5.0.0 src/api/core_methods.rs, src/api/subresource.rs), and the answer's
//! body is dropped undecoded, or decoded without `managedFields` where it is needed:
//! `Api::create` and friends decode it into the kind, which for a pod or an Event means building
//! every field and every `managedFields` entry only to drop them — per synced pod, its host pod
//! and ConfigMap, its status copy, its binding and about five Events.

use kube::api::PostParams;
use kube::core::Request;
use kube::{Api, Resource};
use serde::Serialize;

/// `POST` the object to the collection.
pub(crate) async fn create<K: Resource + Clone + Serialize>(
    api: &Api<K>,
    pp: &PostParams,
    obj: &K,
) -> kube::Result<()> {
    send(api, create_request(api, pp, obj)?).await
}

/// `POST` the object to the collection and read the answer without its `managedFields` (the
/// Service redirect needs what the server allocated, not who set which field).
pub(crate) async fn create_lean<K>(api: &Api<K>, pp: &PostParams, obj: &K) -> kube::Result<K>
where
    K: Resource + Clone + Serialize + serde::de::DeserializeOwned,
{
    let answer: super::lean::Lean<K> = api.clone().into_client().request(create_request(api, pp, obj)?).await?;
    Ok(answer.0)
}

/// `PUT` the object (with its resourceVersion, which makes a stale write a 409).
pub(crate) async fn replace<K: Resource + Clone + Serialize>(
    api: &Api<K>,
    name: &str,
    pp: &PostParams,
    obj: &K,
) -> kube::Result<()> {
    let request = Request::new(api.resource_url()).replace(name, pp, body(obj)?).map_err(kube::Error::BuildRequest)?;
    send(api, request).await
}

/// `PUT` the object's `status` subresource.
pub(crate) async fn replace_status<K: Resource + Clone + Serialize>(
    api: &Api<K>,
    name: &str,
    pp: &PostParams,
    obj: &K,
) -> kube::Result<()> {
    let request = Request::new(api.resource_url())
        .replace_subresource("status", name, pp, body(obj)?)
        .map_err(kube::Error::BuildRequest)?;
    send(api, request).await
}

/// `POST` to a subresource (`binding`).
pub(crate) async fn create_subresource<K: Resource + Clone, T: Serialize>(
    api: &Api<K>,
    subresource: &str,
    name: &str,
    pp: &PostParams,
    obj: &T,
) -> kube::Result<()> {
    let request = Request::new(api.resource_url())
        .create_subresource(subresource, name, pp, body(obj)?)
        .map_err(kube::Error::BuildRequest)?;
    send(api, request).await
}

fn create_request<K: Resource + Clone + Serialize>(
    api: &Api<K>,
    pp: &PostParams,
    obj: &K,
) -> kube::Result<http::Request<Vec<u8>>> {
    Request::new(api.resource_url()).create(pp, body(obj)?).map_err(kube::Error::BuildRequest)
}

fn body<T: Serialize>(obj: &T) -> kube::Result<Vec<u8>> {
    serde_json::to_vec(obj).map_err(kube::Error::SerdeError)
}

/// Errors come back as `Api::create`'s do (`kube::Error::Api` with the server's Status).
async fn send<K: Resource + Clone>(api: &Api<K>, request: http::Request<Vec<u8>>) -> kube::Result<()> {
    api.clone().into_client().request_text(request).await.map(drop)
}
