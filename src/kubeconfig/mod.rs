//! Kubeconfig files as client-go loads and modifies them (loading rules, ModifyConfig, locking).
