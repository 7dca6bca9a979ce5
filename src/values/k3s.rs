//! The k3s image for a Kubernetes version: the one table `render --kubernetes-version` and
//! `create` (from the host's version) both use.
//!
//! The v0.15.7-era table (loft-sh/vcluster v0.15: `vendor/github.com/loft-sh/utils/pkg/helm/values/k3s.go`
//! `K3SVersionMap`): one image per minor, newest patch of that era. A newer minor than the table
//! knows gets the newest image, an older one the oldest, each with a note (the established CLI
//! logs "officially unsupported host server version, will fallback …").

/// (major.minor, image), newest first.
pub(crate) const K3S_IMAGES: &[(&str, &str)] = &[
    ("1.27", "rancher/k3s:v1.27.3-k3s1"),
    ("1.26", "rancher/k3s:v1.26.6-k3s1"),
    ("1.25", "rancher/k3s:v1.25.11-k3s1"),
    ("1.24", "rancher/k3s:v1.24.15-k3s1"),
    ("1.23", "rancher/k3s:v1.23.17-k3s1"),
    ("1.22", "rancher/k3s:v1.22.17-k3s1"),
    ("1.21", "rancher/k3s:v1.21.14-k3s1"),
    ("1.20", "rancher/k3s:v1.20.15-k3s1"),
];

/// The image picked for a version, and why when it is not an exact match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct K3sImage {
    pub(crate) image: &'static str,
    pub(crate) fallback_note: Option<String>,
}

/// A `--kubernetes-version` that is not `[v]MAJOR.MINOR[.PATCH…]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kubernetes version {0:?} is not of the form v1.27, 1.27 or 1.27.3")]
pub(crate) struct BadVersion(pub String);

/// Pick the k3s image for a Kubernetes version such as `v1.27`, `1.26.4` or `v1.28.2+k3s1`.
pub(crate) fn image_for_version(version: &str) -> Result<K3sImage, BadVersion> {
    let bad = || BadVersion(version.to_string());
    let trimmed = version.trim().strip_prefix('v').unwrap_or(version.trim());
    let mut parts = trimmed.splitn(3, '.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let minor_text = parts.next().ok_or_else(bad)?;
    let minor_digits: String = minor_text.chars().take_while(char::is_ascii_digit).collect();
    let minor: u32 = minor_digits.parse().map_err(|_| bad())?;
    if minor_digits.len() != minor_text.len() && !minor_text[minor_digits.len()..].starts_with(['+', '-']) {
        return Err(bad());
    }
    let key = format!("{major}.{minor}");
    if let Some((_, image)) = K3S_IMAGES.iter().find(|(v, _)| *v == key) {
        return Ok(K3sImage { image, fallback_note: None });
    }
    let (newest, newest_image) = K3S_IMAGES[0];
    let (oldest, oldest_image) = K3S_IMAGES[K3S_IMAGES.len() - 1];
    let newer = (major, minor) > parse_minor(newest);
    let (image, nearest) = if newer { (newest_image, newest) } else { (oldest_image, oldest) };
    Ok(K3sImage {
        image,
        fallback_note: Some(format!(
            "Kubernetes {key} is not in the k3s image table ({oldest}–{newest}); using {image} ({nearest})"
        )),
    })
}

fn parse_minor(v: &str) -> (u32, u32) {
    let (a, b) = v.split_once('.').unwrap_or((v, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_minor_and_falls_back_at_both_ends() {
        assert_eq!(image_for_version("v1.26.4").unwrap().image, "rancher/k3s:v1.26.6-k3s1");
        assert_eq!(
            image_for_version("1.27").unwrap(),
            K3sImage { image: "rancher/k3s:v1.27.3-k3s1", fallback_note: None }
        );
        assert_eq!(image_for_version("v1.27+k3s1").unwrap().image, "rancher/k3s:v1.27.3-k3s1");
        let newer = image_for_version("v1.33.1").unwrap();
        assert_eq!(newer.image, "rancher/k3s:v1.27.3-k3s1");
        assert!(newer.fallback_note.unwrap().contains("1.33"));
        assert_eq!(image_for_version("1.16").unwrap().image, "rancher/k3s:v1.20.15-k3s1");
        for bad in ["", "latest", "1", "v1.x", "1.27x"] {
            assert!(image_for_version(bad).is_err(), "{bad}");
        }
    }
}
