//! Questions about a release's history (all its revisions), answered as Helm and the established
//! vcluster CLI answer them. Pure: the caller lists and decodes the records, and asks about them
//! as they are (releases, or stored records: anything that is `AsRef<Release>`).

use super::model::{Release, Status};

/// Chart names the established vcluster CLI recognises as a vcluster release (not `vcluster-eks`).
/// (loft-sh/vcluster v0.19 `cmd/vclusterctl/cmd/create.go`)
pub(crate) const VCLUSTER_CHART_NAMES: [&str; 3] = ["vcluster", "vcluster-k0s", "vcluster-k8s"];

/// The highest revision, whatever its status. (Helm `pkg/storage/storage.go` `Last`)
pub fn latest<R: AsRef<Release>>(history: &[R]) -> Option<&Release> {
    history.iter().map(AsRef::as_ref).max_by_key(|r| r.version)
}

/// The highest revision with status `deployed`; Helm takes the highest when concurrent writers left
/// several. (Helm `Storage.Deployed`)
pub fn last_deployed<R: AsRef<Release>>(history: &[R]) -> Option<&Release> {
    history.iter().map(AsRef::as_ref).filter(|r| r.info.status == Status::Deployed).max_by_key(|r| r.version)
}

/// The revision number the next install/upgrade/rollback writes.
pub fn next_revision<R: AsRef<Release>>(history: &[R]) -> u32 {
    latest(history).map_or(1, |r| r.version + 1)
}

/// The revisions whose objects may still be live: the last deployed one and every later one
/// (failed or interrupted attempts), oldest first; the whole history when none was deployed. An
/// upgrade prunes what these manifests hold and the new one does not, so a failed attempt's objects
/// are never orphaned.
pub fn since_last_deployed<R: AsRef<Release>>(history: &[R]) -> Vec<&Release> {
    let from = last_deployed(history).map_or(0, |r| r.version);
    let mut revisions: Vec<&Release> = history.iter().map(AsRef::as_ref).filter(|r| r.version >= from).collect();
    revisions.sort_by_key(|r| r.version);
    revisions
}

/// Revisions to delete before writing a new one so that at most `history_max` remain, the new one
/// included; `0` keeps everything. Oldest go first, never the last deployed one, and deletion
/// stops as soon as enough are gone. (Helm `Storage.Create` calling `removeLeastRecent(max - 1)`)
pub fn revisions_to_prune<R: AsRef<Release>>(history: &[R], history_max: usize) -> Vec<u32> {
    if history_max == 0 {
        return Vec::new();
    }
    let keep = history_max - 1;
    let mut oldest_first: Vec<u32> = history.iter().map(|r| r.as_ref().version).collect();
    oldest_first.sort_unstable();
    let protected = last_deployed(history).map(|r| r.version);
    let mut doomed = Vec::new();
    for version in &oldest_first {
        if oldest_first.len() - doomed.len() <= keep {
            break;
        }
        if Some(*version) != protected {
            doomed.push(*version);
        }
    }
    doomed
}

/// The established vcluster CLI's "this vcluster already exists" check, which decides that
/// `create` without `--upgrade` must not touch the release: ignoring superseded and uninstalled
/// revisions, the highest one is deployed and made from a vcluster chart. A failed or pending
/// release is therefore re-run. (loft-sh/vcluster v0.19 `cmd/vclusterctl/cmd/create.go`, which
/// reads the status from the Secret's `status` label; Helm writes that label from the same status.)
pub fn existing_vcluster_release<R: AsRef<Release>>(history: &[R]) -> Option<&Release> {
    history
        .iter()
        .map(AsRef::as_ref)
        .filter(|r| !matches!(r.info.status, Status::Superseded | Status::Uninstalled))
        .max_by_key(|r| r.version)
        .filter(|r| r.info.status == Status::Deployed && VCLUSTER_CHART_NAMES.contains(&r.chart_name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Chart, Metadata};

    fn rev(version: u32, status: Status) -> Release {
        chart_rev(version, status, "vcluster")
    }

    fn chart_rev(version: u32, status: Status, chart: &str) -> Release {
        let mut r = Release {
            name: "my-vc".into(),
            version,
            chart: Some(Chart {
                metadata: Some(Metadata { name: chart.into(), ..Metadata::default() }),
                ..Chart::default()
            }),
            ..Release::default()
        };
        r.info.status = status;
        r
    }

    fn versions(rs: &[&Release]) -> Vec<u32> {
        rs.iter().map(|r| r.version).collect()
    }

    use Status::*;

    #[test]
    fn latest_and_last_deployed() {
        let h = [rev(2, Deployed), rev(4, Failed), rev(1, Superseded), rev(3, Deployed)];
        assert_eq!(latest(&h).unwrap().version, 4);
        assert_eq!(last_deployed(&h).unwrap().version, 3, "two deployed: the highest wins");
        assert_eq!(next_revision(&h), 5);
        assert_eq!(next_revision::<Release>(&[]), 1);
        assert!(latest::<Release>(&[]).is_none());
    }

    #[test]
    fn since_last_deployed_includes_failed_attempts() {
        let h = [rev(3, Failed), rev(1, Superseded), rev(2, Deployed), rev(4, PendingUpgrade)];
        assert_eq!(versions(&since_last_deployed(&h)), [2, 3, 4]);
        let never = [rev(2, Failed), rev(1, Failed)];
        assert_eq!(versions(&since_last_deployed(&never)), [1, 2]);
    }

    #[test]
    fn pruning_keeps_room_for_the_new_revision() {
        let h: Vec<Release> = (1..=10).map(|v| rev(v, if v == 10 { Deployed } else { Superseded })).collect();
        assert_eq!(revisions_to_prune(&h, 10), [1], "10 stored + 1 new > 10");
        assert_eq!(revisions_to_prune(&h, 3), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(revisions_to_prune(&h, 11).is_empty());
        assert!(revisions_to_prune(&h, 0).is_empty(), "0 = unlimited");
    }

    #[test]
    fn pruning_never_deletes_the_last_deployed_revision() {
        // Helm's loop skips the deployed revision and keeps deleting newer ones until enough are gone.
        let h = [rev(1, Deployed), rev(2, Failed), rev(3, Failed)];
        assert_eq!(revisions_to_prune(&h, 2), [2, 3]);
        assert_eq!(revisions_to_prune(&h, 1), [2, 3], "the deployed one survives even past the limit");
        let h = [rev(1, Superseded), rev(2, Deployed), rev(3, Failed), rev(4, Failed)];
        assert_eq!(revisions_to_prune(&h, 3), [1, 3]);
    }

    #[test]
    fn existing_release_predicate_matches_the_established_cli() {
        assert_eq!(existing_vcluster_release(&[rev(1, Superseded), rev(2, Deployed)]).unwrap().version, 2);
        // Superseded/uninstalled revisions are skipped before taking the highest.
        assert_eq!(existing_vcluster_release(&[rev(1, Deployed), rev(2, Superseded)]).unwrap().version, 1);
        assert!(existing_vcluster_release(&[rev(1, Deployed), rev(2, Uninstalled)]).is_some());
        // The highest remaining must itself be deployed: failed or pending means "re-run".
        assert!(existing_vcluster_release(&[rev(1, Deployed), rev(2, Failed)]).is_none());
        assert!(existing_vcluster_release(&[rev(1, PendingInstall)]).is_none());
        assert!(existing_vcluster_release::<Release>(&[]).is_none());
        for chart in VCLUSTER_CHART_NAMES {
            assert!(existing_vcluster_release(&[chart_rev(1, Deployed, chart)]).is_some(), "{chart}");
        }
        assert!(existing_vcluster_release(&[chart_rev(1, Deployed, "vcluster-eks")]).is_none());
        assert!(existing_vcluster_release(&[chart_rev(1, Deployed, "nginx")]).is_none());
    }
}
