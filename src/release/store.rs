//! Release records in the cluster: Helm's Secret storage driver, read and written over the API
//! (Helm v3 `pkg/storage/driver/secrets.go` `Query`, `Create`, `Update`, `Delete`).
//!
//! The one module of `release` that holds a client. A new revision is **created** (POST), so a
//! 409 AlreadyExists means another operation took that revision first: that is the lock
//! ([`StoreError::Taken`]). Updates carry the resourceVersion read or written last, so a record
//! changed meanwhile (another process cleared our lock with `--force-unlock`) is not overwritten.

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions};

use super::codec::{self, CodecError, RecordWrite};
use super::model::Release;
use crate::cluster::{ClusterError, Connection};

/// A release record as stored: the release and the Secret's resourceVersion.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stored {
    pub(crate) release: Release,
    pub(crate) resource_version: Option<String>,
    pub(crate) uid: Option<String>,
}

impl AsRef<Release> for Stored {
    fn as_ref(&self) -> &Release {
        &self.release
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("release record {secret} in namespace {namespace} cannot be read: {source}")]
    Decode {
        secret: String,
        namespace: String,
        #[source]
        source: CodecError,
    },
    #[error("cannot encode release {name} revision {revision}: {source}")]
    Encode {
        name: String,
        revision: u32,
        #[source]
        source: CodecError,
    },
    /// The revision's record already exists: another operation created it first.
    #[error("revision {revision} of release {name} was created by another operation at the same time")]
    Taken { name: String, revision: u32 },
    /// The record changed since it was read (or is gone).
    #[error("release record {secret} was changed or removed by another process while this one ran")]
    Changed { secret: String },
}

/// The records of one release in one namespace.
#[derive(Clone)]
pub(crate) struct ReleaseStore {
    cluster: Connection,
    api: Api<Secret>,
    namespace: String,
    name: String,
}

impl ReleaseStore {
    pub fn new(cluster: &Connection, namespace: &str, name: &str) -> ReleaseStore {
        ReleaseStore {
            cluster: cluster.clone(),
            api: Api::namespaced(cluster.client.clone(), namespace),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Every revision, oldest first: one LIST by `owner=helm,name=<name>`. A record that cannot
    /// be decoded is an error naming it (Helm fails the same way). (Helm `Secrets.Query`)
    pub(crate) async fn history(&self) -> Result<Vec<Stored>, StoreError> {
        let lp = ListParams::default().labels(&codec::history_selector(&self.name));
        let list = self.api.list(&lp).await.map_err(|e| self.cluster.error(e))?;
        let mut out = Vec::with_capacity(list.items.len());
        for secret in list.items.iter().filter(|s| s.type_.as_deref() == Some(codec::SECRET_TYPE)) {
            let release = codec::from_secret(secret).map_err(|source| StoreError::Decode {
                secret: secret.metadata.name.clone().unwrap_or_default(),
                namespace: self.namespace.clone(),
                source,
            })?;
            out.push(stored(release, secret));
        }
        out.sort_by_key(|s| s.release.version);
        Ok(out)
    }

    /// Create a new revision's record; [`StoreError::Taken`] when it exists already.
    /// (Helm `Secrets.Create`)
    pub(crate) async fn create(&self, release: &Release) -> Result<Stored, StoreError> {
        let secret = self.secret(release, RecordWrite::Create(jiff::Timestamp::now()))?;
        match self.api.create(&PostParams::default(), &secret).await {
            Ok(created) => Ok(stored(release.clone(), &created)),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Err(StoreError::Taken { name: self.name.clone(), revision: release.version })
            }
            Err(e) => Err(self.cluster.error(e).into()),
        }
    }

    /// Replace a record (status, description), only if it is unchanged since `current` was
    /// read or written. (Helm `Secrets.Update`, which replaces the whole Secret)
    pub(crate) async fn update(&self, current: &Stored, release: &Release) -> Result<Stored, StoreError> {
        let mut secret = self.secret(release, RecordWrite::Update(jiff::Timestamp::now()))?;
        secret.metadata.resource_version = current.resource_version.clone();
        let name = codec::secret_name(&self.name, release.version);
        match self.api.replace(&name, &PostParams::default(), &secret).await {
            Ok(updated) => Ok(stored(release.clone(), &updated)),
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => {
                Err(StoreError::Changed { secret: name })
            }
            Err(e) => Err(self.cluster.error(e).into()),
        }
    }

    /// Delete a revision's record (history pruning, uninstall); gone already is fine.
    pub(crate) async fn delete(&self, stored: &Stored) -> Result<(), StoreError> {
        let name = codec::secret_name(&self.name, stored.release.version);
        let dp = DeleteParams {
            preconditions: stored.uid.clone().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
            ..DeleteParams::default()
        };
        match self.api.delete(&name, &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(self.cluster.error(e).into()),
        }
    }

    fn secret(&self, release: &Release, write: RecordWrite) -> Result<Secret, StoreError> {
        codec::to_secret(release, write).map_err(|source| StoreError::Encode {
            name: release.name.clone(),
            revision: release.version,
            source,
        })
    }
}

fn stored(release: Release, secret: &Secret) -> Stored {
    Stored { release, resource_version: secret.metadata.resource_version.clone(), uid: secret.metadata.uid.clone() }
}
