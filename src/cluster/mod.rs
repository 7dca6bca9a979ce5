//! Cluster access: building a kube::Client from kubeconfig/context, and the errors people see.
