//! Release records as Secrets, exactly as Helm 3's Secret storage driver writes and reads them
//! (Helm v3 `pkg/storage/driver/secrets.go`, `pkg/storage/driver/util.go`,
//! `pkg/storage/storage.go` `makeKey`).
//!
//! One Secret per revision, named `sh.helm.release.v1.<name>.v<revision>`, of type
//! `helm.sh/release.v1`, labelled `owner=helm`, `name`, `status`, `version` (plus `createdAt` when
//! created, `modifiedAt` when updated, as Unix seconds); its `data.release` holds the text
//! base64(gzip(JSON)) as bytes, so on the wire, where Secret data is base64 again, it is base64 of
//! that. Decoding also accepts records stored without gzip (Helm checks the gzip magic bytes).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::model::Release;

/// Secret type of release records. (Helm `newSecretsObject`)
pub(crate) const SECRET_TYPE: &str = "helm.sh/release.v1";
/// Name prefix of release records. (Helm `pkg/storage/storage.go` `HelmStorageType`)
pub(crate) const STORAGE_PREFIX: &str = "sh.helm.release.v1";
/// Key of the record in the Secret's data.
pub(crate) const DATA_KEY: &str = "release";
/// Value of the `owner` label.
pub(crate) const OWNER: &str = "helm";
/// Labels Helm manages on a record; every other label is a custom release label.
/// (Helm `pkg/storage/driver/util.go` `systemLabels`)
pub(crate) const SYSTEM_LABELS: [&str; 6] = ["name", "owner", "status", "version", "createdAt", "modifiedAt"];

/// Gzip's magic bytes plus the deflate method, as Helm checks them. (`magicGzip`)
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
/// Refuse records that inflate beyond this (a Secret holds at most 1 MiB compressed).
const MAX_DECODED_BYTES: u64 = 256 << 20;

/// Why a record could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("the Secret has no data.{DATA_KEY}")]
    MissingData,
    #[error("data.{DATA_KEY} is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("data.{DATA_KEY} is not valid gzip: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("data.{DATA_KEY} inflates beyond the {} MiB a release record may hold", MAX_DECODED_BYTES >> 20)]
    TooLarge,
    #[error("data.{DATA_KEY} is not a Helm release: {0}")]
    Json(#[source] serde_json::Error),
}

/// `sh.helm.release.v1.<name>.v<revision>`. (Helm `makeKey`)
pub fn secret_name(release: &str, revision: u32) -> String {
    format!("{STORAGE_PREFIX}.{release}.v{revision}")
}

/// Label selector for every record of `release`: `owner=helm,name=<release>`.
pub(crate) fn history_selector(release: &str) -> String {
    format!("owner={OWNER},name={release}")
}

/// The text Helm stores as `data.release`: base64(gzip(JSON)), gzip at best compression.
/// (Helm `encodeRelease`)
pub fn encode(release: &Release) -> Result<String, CodecError> {
    let json = serde_json::to_vec(release).map_err(CodecError::Json)?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&json).map_err(CodecError::Gzip)?;
    let compressed = gz.finish().map_err(CodecError::Gzip)?;
    Ok(STANDARD.encode(compressed))
}

/// Decode the bytes of `data.release` (already un-base64'd once by the API client): base64, then
/// gunzip when the gzip magic is present, then JSON. (Helm `decodeRelease`)
pub fn decode(data: &[u8]) -> Result<Release, CodecError> {
    decode_within(data, MAX_DECODED_BYTES)
}

fn decode_within(data: &[u8], max_decoded_bytes: u64) -> Result<Release, CodecError> {
    // Go's base64 decoder skips line breaks.
    let text: Vec<u8> = data.iter().copied().filter(|b| !matches!(b, b'\r' | b'\n')).collect();
    let raw = STANDARD.decode(text)?;
    let json = if raw.len() > 3 && raw[..3] == GZIP_MAGIC {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice()).take(max_decoded_bytes + 1).read_to_end(&mut out).map_err(CodecError::Gzip)?;
        if out.len() as u64 > max_decoded_bytes {
            return Err(CodecError::TooLarge);
        }
        out
    } else {
        raw
    };
    serde_json::from_slice(&json).map_err(CodecError::Json)
}

/// When the record is written: Helm's `Create` labels it `createdAt`, `Update` labels it
/// `modifiedAt` (and, replacing the object, drops `createdAt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordWrite {
    Create(Timestamp),
    Update(Timestamp),
}

/// The Secret holding `release`, in the release's namespace. (Helm `newSecretsObject`)
pub fn to_secret(release: &Release, write: RecordWrite) -> Result<Secret, CodecError> {
    let mut labels = release.labels.clone();
    let (stamp_label, at) = match write {
        RecordWrite::Create(at) => ("createdAt", at),
        RecordWrite::Update(at) => ("modifiedAt", at),
    };
    // System labels win over custom ones of the same name, as in Helm.
    for (key, value) in [
        (stamp_label, at.as_second().to_string()),
        ("name", release.name.clone()),
        ("owner", OWNER.to_owned()),
        ("status", release.info.status.as_str().to_owned()),
        ("version", release.version.to_string()),
    ] {
        labels.insert(key.to_owned(), value);
    }
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(&release.name, release.version)),
            namespace: (!release.namespace.is_empty()).then(|| release.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        type_: Some(SECRET_TYPE.to_owned()),
        data: Some(BTreeMap::from([(DATA_KEY.to_owned(), ByteString(encode(release)?.into_bytes()))])),
        ..Secret::default()
    })
}

/// The release a record Secret holds, with its custom labels. (Helm `Secrets.Get`/`Query`)
pub fn from_secret(secret: &Secret) -> Result<Release, CodecError> {
    let data = secret.data.as_ref().and_then(|d| d.get(DATA_KEY)).ok_or(CodecError::MissingData)?;
    let mut release = decode(&data.0)?;
    release.labels = secret
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(key, _)| !SYSTEM_LABELS.contains(&key.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(release)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Chart, Metadata, Status};
    use proptest::prelude::*;
    use serde_json::json;

    fn sample() -> Release {
        let mut release = Release {
            name: "my-vc".into(),
            namespace: "vcluster-my-vc".into(),
            version: 2,
            manifest: "---\n# Source: vcluster/templates/service.yaml\napiVersion: v1\nkind: Service\n".into(),
            chart: Some(Chart {
                metadata: Some(Metadata::vcluster()),
                values: Some(json!({"sync": {"ingresses": {"enabled": false}}}).as_object().unwrap().clone()),
                ..Chart::default()
            }),
            config: json!({"serviceCIDR": "10.96.0.0/12"}).as_object().unwrap().clone(),
            ..Release::default()
        };
        release.set_status(Status::Deployed, "Upgrade complete");
        release.labels.insert("team".into(), "platform".into());
        release
    }

    #[test]
    fn secret_has_helms_name_type_labels_and_doubly_base64_data() {
        let at: Timestamp = "2024-03-01T12:00:00Z".parse().unwrap();
        let secret = to_secret(&sample(), RecordWrite::Create(at)).unwrap();
        let wire = serde_json::to_value(&secret).unwrap();
        assert_eq!(wire["metadata"]["name"], "sh.helm.release.v1.my-vc.v2");
        assert_eq!(wire["metadata"]["namespace"], "vcluster-my-vc");
        assert_eq!(wire["type"], "helm.sh/release.v1");
        assert_eq!(
            wire["metadata"]["labels"],
            json!({"createdAt": "1709294400", "name": "my-vc", "owner": "helm", "status": "deployed",
                   "team": "platform", "version": "2"})
        );
        // On the wire: base64 of the text base64(gzip(JSON)).
        let once = STANDARD.decode(wire["data"]["release"].as_str().unwrap()).unwrap();
        let gz = STANDARD.decode(&once).unwrap();
        assert_eq!(gz[..3], GZIP_MAGIC);
        let mut json = String::new();
        GzDecoder::new(gz.as_slice()).read_to_string(&mut json).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["info"]["status"], "deployed");
        assert_eq!(value["chart"]["metadata"]["apiVersion"], "v2");
        assert!(value.get("labels").is_none(), "labels live on the Secret, not in the JSON");
    }

    #[test]
    fn update_stamps_modified_at_instead_of_created_at() {
        let at: Timestamp = "2024-03-01T12:00:00Z".parse().unwrap();
        let secret = to_secret(&sample(), RecordWrite::Update(at)).unwrap();
        let labels = secret.metadata.labels.unwrap();
        assert_eq!(labels["modifiedAt"], "1709294400");
        assert!(!labels.contains_key("createdAt"));
    }

    #[test]
    fn secret_round_trip_keeps_release_and_custom_labels_only() {
        let release = sample();
        let secret = to_secret(&release, RecordWrite::Create(Timestamp::UNIX_EPOCH)).unwrap();
        let back = from_secret(&secret).unwrap();
        assert_eq!(back, release);
    }

    #[test]
    fn records_without_gzip_decode() {
        let json = serde_json::to_vec(&sample()).unwrap();
        let back = decode(STANDARD.encode(json).as_bytes()).unwrap();
        assert_eq!(back.name, "my-vc");
        assert_eq!(back.info.status, Status::Deployed);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(decode(b"%%%"), Err(CodecError::Base64(_))));
        assert!(matches!(decode(STANDARD.encode([0x1f, 0x8b, 0x08, 0, 1]).as_bytes()), Err(CodecError::Gzip(_))));
        assert!(matches!(decode(STANDARD.encode("[1,2]").as_bytes()), Err(CodecError::Json(_))));
        assert!(matches!(decode(b""), Err(CodecError::Json(_))));
        assert!(matches!(from_secret(&Secret::default()), Err(CodecError::MissingData)));
    }

    #[test]
    fn a_gzip_bomb_is_refused() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&[b' '; 4097]).unwrap();
        let data = STANDARD.encode(gz.finish().unwrap());
        assert!(matches!(decode_within(data.as_bytes(), 4096), Err(CodecError::TooLarge)));
        assert!(matches!(decode_within(data.as_bytes(), 4097), Err(CodecError::Json(_))), "limit is inclusive");
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
            let _ = decode(STANDARD.encode(&bytes).as_bytes());
        }

        #[test]
        fn encode_decode_round_trips(name in "[a-z][-a-z0-9]{0,20}", version in 1u32..1000,
                                     manifest in ".{0,200}", key in "[a-zA-Z]{1,10}", value in ".{0,20}") {
            let mut release = sample();
            release.name = name;
            release.version = version;
            release.manifest = manifest;
            release.config.insert(key, serde_json::Value::String(value));
            release.labels.clear();
            let back = decode(encode(&release).unwrap().as_bytes()).unwrap();
            prop_assert_eq!(back, release);
        }
    }
}
