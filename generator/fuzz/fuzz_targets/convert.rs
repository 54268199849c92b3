//! Arbitrary input files never panic the translator: each becomes a unit or a failure stub
//! (or, when no valid unit name can be made of it, a reported error), and every unit written
//! has a name systemd accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use unitsmith_generator::generate::{generate, Options};
use unitsmith_generator::quadlet::Kind;
use unitsmith_generator::sources::{Input, InputKind};
use unitsmith_generator::unitname;

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
        deadline: None,
        flavor: Default::default(),
    };
    let out = generate(&inputs, &opts);
    // Two inputs may name the same unit (ServiceName=): the second is reported, not made.
    let collisions = out.warnings.iter().filter(|w| w.contains("not generated:")).count();
    assert_eq!(
        out.units.len() + out.not_generated.len() + collisions,
        inputs.len(),
        "every input yields a unit, a stub or a reported error"
    );
    for u in &out.units {
        assert!(unitname::check(&u.name).is_ok(), "invalid unit name {:?}", u.name);
        let _ = u.text();
    }
});
