//! Helm 3 release records (pkg/release/v1 JSON in Secrets `sh.helm.release.v1.<name>.v<rev>`).
