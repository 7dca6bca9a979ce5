//! Virtual <-> host name translation shared by the CLI (port-forward) and the syncer (pure).
