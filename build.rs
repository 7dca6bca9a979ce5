//! Converts the chart defaults (`templates/values.yaml`, the single source of truth) to JSON at
//! build time: every command starts by loading them, and reading JSON takes a fraction of the
//! time a YAML parse takes (it was about an eighth of `vcluster render`'s wall time). A unit
//! test (`values::tests::build_time_defaults_equal_the_yaml`) checks that this conversion and
//! the runtime YAML reader agree.

use std::{env, fs, path::Path};

fn main() {
    let source = "templates/values.yaml";
    println!("cargo::rerun-if-changed={source}");
    let text = fs::read_to_string(source).expect("templates/values.yaml is readable");
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        legacy_octal_numbers: true,
    };
    let value: serde_json::Value = serde_saphyr::from_str_with_options(&text, options)
        .unwrap_or_else(|e| panic!("{source} is not valid YAML: {e}"));
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("values-defaults.json");
    fs::write(out, serde_json::to_string(&value).expect("JSON")).expect("OUT_DIR is writable");
}
