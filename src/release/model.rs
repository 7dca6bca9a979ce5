//! The release record, as Helm 3 serializes it to JSON.
//!
//! Field names, their order and which are omitted when empty follow Helm v3's Go types:
//! `pkg/release/release.go` (`Release`), `pkg/release/info.go` (`Info`), `pkg/release/status.go`
//! (`Status`), `pkg/chart/chart.go` (`Chart`, `File`), `pkg/chart/metadata.go` (`Metadata`) and
//! `pkg/time/time.go` (zero times written as `""`). Fields this code does not model (hooks, a
//! chart's lock, `info.resources`, fields of future Helm versions) are kept verbatim, so a record
//! written by Helm decodes and re-encodes without loss.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A JSON object (values, config, unknown fields).
pub type Object = Map<String, Value>;

/// One revision of a release. (Helm v3 `pkg/release/release.go` `Release`)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Release {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub info: Info,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
    /// The values given at install/upgrade time (not the chart defaults); what
    /// `helm get values` prints and `helm upgrade --reuse-values` reuses.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Map::is_empty")]
    pub config: Object,
    /// The rendered manifests, `---`-separated, as `helm get manifest` prints them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// Hooks, kept as written (this tool's chart has none).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Value>,
    /// The revision, from 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Custom labels of the record (Helm 3.13+ keeps them in the storage object's labels, not in
    /// the JSON: `json:"-"`).
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// Fields this code does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Object,
}

impl AsRef<Release> for Release {
    fn as_ref(&self) -> &Release {
        self
    }
}

impl Release {
    /// Set status and description together. (Helm `Release.SetStatus`)
    pub fn set_status(&mut self, status: Status, description: impl Into<String>) {
        self.info.status = status;
        self.info.description = description.into();
    }

    /// The chart's name (`chart.metadata.name`), empty when missing.
    pub fn chart_name(&self) -> &str {
        self.chart.as_ref().and_then(|c| c.metadata.as_ref()).map_or("", |m| m.name.as_str())
    }
}

/// Release information. (Helm v3 `pkg/release/info.go` `Info`)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Info {
    #[serde(default, with = "helm_time")]
    pub first_deployed: Option<Timestamp>,
    #[serde(default, with = "helm_time")]
    pub last_deployed: Option<Timestamp>,
    /// Helm writes `"deleted": ""` on every record that was not uninstalled.
    #[serde(default, with = "helm_time")]
    pub deleted: Option<Timestamp>,
    /// Human-readable log entry ("Install complete", "Upgrade \"x\" failed: …").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) notes: String,
    /// Fields this code does not model (e.g. `resources`), kept verbatim.
    #[serde(flatten)]
    pub(crate) extra: Object,
}

/// The state of a revision. (Helm v3 `pkg/release/status.go`)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Deployed,
    Uninstalled,
    Superseded,
    Failed,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
    /// Also what an unrecognised status decodes to.
    #[default]
    #[serde(other)]
    Unknown,
}

impl Status {
    /// The wire form, as in the record's JSON and its Secret's `status` label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }

    /// A pending status: an operation holds the release. (Helm `Status.IsPending`)
    pub(crate) fn is_pending(self) -> bool {
        matches!(self, Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The chart a revision was made from. (Helm v3 `pkg/chart/chart.go` `Chart`; no field is
/// omitted when empty: Go writes `null`.)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Chart {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// `Chart.lock`, kept as written.
    #[serde(default)]
    pub lock: Option<Value>,
    #[serde(default)]
    pub templates: Option<Vec<ChartFile>>,
    /// The chart's default values.
    #[serde(default)]
    pub values: Option<Object>,
    /// `values.schema.json`, base64 in JSON like every Go `[]byte`.
    #[serde(default, with = "base64_bytes")]
    pub schema: Option<Vec<u8>>,
    #[serde(default)]
    pub files: Option<Vec<ChartFile>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// A file of a chart. (Helm v3 `pkg/chart/file.go` `File`)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChartFile {
    pub(crate) name: String,
    #[serde(default, with = "base64_bytes")]
    pub(crate) data: Option<Vec<u8>>,
}

/// `Chart.yaml`. (Helm v3 `pkg/chart/metadata.go` `Metadata`; every field `omitempty`.)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) home: String,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub(crate) sources: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub(crate) keywords: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub(crate) maintainers: Vec<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) icon: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) condition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) tags: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) app_version: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) deprecated: bool,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) kube_version: String,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub(crate) dependencies: Vec<Value>,
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub(crate) chart_type: String,
    #[serde(flatten)]
    pub(crate) extra: Object,
}

impl Metadata {
    /// This CLI's embedded chart: `vcluster`, chart version and appVersion = [`crate::CHART_VERSION`],
    /// apiVersion v2 (Helm 3 charts).
    pub fn vcluster() -> Metadata {
        Metadata {
            name: crate::CHART_NAME.to_owned(),
            version: crate::CHART_VERSION.to_owned(),
            app_version: crate::CHART_VERSION.to_owned(),
            api_version: "v2".to_owned(),
            description: "vcluster - Virtual Kubernetes Clusters".to_owned(),
            chart_type: "application".to_owned(),
            ..Metadata::default()
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Go writes a nil map or slice as `null` when not `omitempty`; read that as empty.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Helm's time: RFC 3339 with nanoseconds (Go's `time.Time` JSON), and `""` for the zero time.
/// (Helm v3 `pkg/time/time.go`)
mod helm_time {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Go's zero `time.Time` (0001-01-01T00:00:00Z), which stdlib-typed writers may emit.
    const GO_ZERO_SECONDS: i64 = -62_135_596_800;

    pub(crate) fn serialize<S: Serializer>(time: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
        match time {
            None => serializer.serialize_str(""),
            // jiff prints RFC 3339 with the shortest exact fraction, as Go's RFC3339Nano does.
            Some(t) => serializer.collect_str(t),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(deserializer)?.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => {
                let t: Timestamp = text.parse().map_err(|e| D::Error::custom(format!("invalid time {text:?}: {e}")))?;
                Ok((t.as_second() != GO_ZERO_SECONDS || t.subsec_nanosecond() != 0).then_some(t))
            }
        }
    }
}

/// A Go `[]byte` in JSON: standard base64, or `null` for nil.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match bytes {
            None => serializer.serialize_none(),
            Some(b) => serializer.serialize_str(&STANDARD.encode(b)),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| STANDARD.decode(text).map_err(|e| D::Error::custom(format!("invalid base64: {e}"))))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_fields_are_omitted_or_written_as_go_does() {
        let release = Release {
            name: "my-vc".into(),
            version: 1,
            namespace: "ns".into(),
            chart: Some(Chart::default()),
            ..Release::default()
        };
        let json = serde_json::to_value(&release).unwrap();
        assert_eq!(
            json,
            json!({
                "name": "my-vc",
                "info": {"first_deployed": "", "last_deployed": "", "deleted": "", "status": "unknown"},
                "chart": {"metadata": null, "lock": null, "templates": null, "values": null, "schema": null, "files": null},
                "version": 1,
                "namespace": "ns"
            })
        );
    }

    #[test]
    fn go_times_parse_with_offsets_and_nanoseconds() {
        let info: Info = serde_json::from_value(json!({
            "first_deployed": "2023-05-04T10:11:12.123456789+02:00",
            "last_deployed": "2023-05-04T08:11:12Z",
            "deleted": "0001-01-01T00:00:00Z",
            "status": "deployed"
        }))
        .unwrap();
        assert_eq!(info.first_deployed.unwrap().to_string(), "2023-05-04T08:11:12.123456789Z");
        assert_eq!(info.last_deployed.unwrap().to_string(), "2023-05-04T08:11:12Z");
        assert_eq!(info.deleted, None, "Go's zero time is no time");
        assert_eq!(info.status, Status::Deployed);
        let back = serde_json::to_value(&info).unwrap();
        assert_eq!(back["first_deployed"], "2023-05-04T08:11:12.123456789Z");
        assert_eq!(back["deleted"], "");
    }

    #[test]
    fn every_status_round_trips_and_unknown_text_is_unknown() {
        for status in [
            Status::Unknown,
            Status::Deployed,
            Status::Uninstalled,
            Status::Superseded,
            Status::Failed,
            Status::Uninstalling,
            Status::PendingInstall,
            Status::PendingUpgrade,
            Status::PendingRollback,
        ] {
            let text = serde_json::to_value(status).unwrap();
            assert_eq!(text, status.as_str());
            assert_eq!(serde_json::from_value::<Status>(text).unwrap(), status);
        }
        assert_eq!(serde_json::from_value::<Status>(json!("paused-by-someone")).unwrap(), Status::Unknown);
    }

    #[test]
    fn unknown_fields_and_nulls_survive() {
        let input = json!({
            "name": "x",
            "info": {"first_deployed": "", "last_deployed": "", "deleted": "", "status": "failed",
                     "resources": {"v1/Pod": []}},
            "chart": {"metadata": {"name": "vcluster", "apiVersion": "v2", "futureField": 1},
                      "lock": {"generated": "x"}, "templates": [{"name": "t", "data": "aGk="}],
                      "values": {}, "schema": null, "files": null, "somethingNew": true},
            "config": null,
            "hooks": [{"name": "h", "kind": "Job", "last_run": {"started_at": "", "completed_at": "", "phase": ""}}],
            "version": 3,
            "topLevelFuture": "kept"
        });
        let release: Release = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(release.chart_name(), "vcluster");
        assert_eq!(release.chart.as_ref().unwrap().templates.as_ref().unwrap()[0].data.as_deref(), Some(&b"hi"[..]));
        let mut expected = input;
        expected.as_object_mut().unwrap().remove("config"); // nil map: omitted, as Go does
        assert_eq!(serde_json::to_value(&release).unwrap(), expected);
    }
}
