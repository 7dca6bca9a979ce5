//! `create --dry-run`: how a live object would change (pure). The live object and the server's
//! dry-run apply result are compared without what every write changes anyway (managedFields,
//! resourceVersion, generation, uid, timestamps), as a unified diff of their YAML.

use serde_json::Value;

/// What a dry run found for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Create,
    Unchanged,
    /// A unified diff, live (`-`) to applied (`+`).
    Changed(String),
}

/// Metadata fields every write or the server sets; not a change the person made.
const VOLATILE_METADATA: [&str; 6] =
    ["managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "deletionTimestamp"];

/// The object without volatile metadata.
pub(crate) fn normalize(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in VOLATILE_METADATA {
            meta.shift_remove(field);
        }
    }
    out
}

/// Compare the live object (None: it does not exist) with the dry-run apply result.
pub(crate) fn change(live: Option<&Value>, applied: &Value, label: &str) -> Change {
    let Some(live) = live else { return Change::Create };
    let (before, after) = (normalize(live), normalize(applied));
    if before == after {
        return Change::Unchanged;
    }
    let before = crate::render::to_yaml(&before).unwrap_or_default();
    let after = crate::render::to_yaml(&after).unwrap_or_default();
    let diff = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{label}"), &format!("dry-run/{label}"))
        .to_string();
    Change::Changed(diff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volatile_fields_are_no_change() {
        let live = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "1", "uid": "u",
            "creationTimestamp": "t", "managedFields": [{"manager": "x"}], "generation": 1}, "data": {"k": "v"}});
        let applied = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "2", "uid": "u",
            "creationTimestamp": "t", "managedFields": [{"manager": "y"}], "generation": 2}, "data": {"k": "v"}});
        assert_eq!(change(Some(&live), &applied, "ConfigMap/a"), Change::Unchanged);
        assert_eq!(change(None, &applied, "ConfigMap/a"), Change::Create);
    }

    #[test]
    fn a_changed_field_is_a_unified_diff() {
        let live = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "old", "same": "x"}});
        let applied = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "new", "same": "x"}});
        let Change::Changed(diff) = change(Some(&live), &applied, "ConfigMap/a") else { panic!() };
        assert!(diff.starts_with("--- live/ConfigMap/a\n+++ dry-run/ConfigMap/a\n@@"), "{diff}");
        assert!(diff.contains("-  k: old\n+  k: new\n"), "{diff}");
        assert!(diff.contains("   same: x\n"), "{diff}");
    }
}
