//! Rendering: values -> Kubernetes manifests (pure).
