//! Content negotiation over the Accept header (kubernetes v1.33
//! staging/src/k8s.io/apiserver/pkg/endpoints/handlers/negotiation/negotiate.go).

use crate::model::status::{ApiError, ApiResult};

/// What the client accepts, among what the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Json,
    Table(&'static str),
    Metadata(&'static str),
    Discovery,
}

/// Content negotiation over the Accept header (handlers/negotiation/negotiate.go): the first
/// media type the simulator serves wins.
pub fn negotiate(accept: &str, tables: bool, discovery: bool) -> ApiResult<Want> {
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
}
