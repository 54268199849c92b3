//! Arbitrary input files never panic the translator: each becomes a unit or a failure stub.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use unitsmith_generator::generate::{generate, Options};
use unitsmith_generator::quadlet::Kind;
use unitsmith_generator::sources::{Input, InputKind};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("unitsmith-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut inputs = Vec::new();
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let name = format!("f{i}{}", kind.extension());
        let path = dir.join(&name);
        if std::fs::write(&path, data).is_ok() {
            inputs.push(Input { name, ..Input::at(path, InputKind::Quadlet(kind)) });
        }
    }
    let opts = Options {
        user: false,
        podman: "/usr/bin/podman".into(),
        dirs: vec![PathBuf::from(&dir)],
        helper: "/usr/local/bin/unitsmith".into(),
    };
    let out = generate(&inputs, &opts);
    assert_eq!(out.units.len(), inputs.len(), "every input yields a unit");
    for u in &out.units {
        let _ = u.text();
    }
});
