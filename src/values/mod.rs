//! Values: load, merge and validate a values.yaml (pure; no I/O except reading inputs).
