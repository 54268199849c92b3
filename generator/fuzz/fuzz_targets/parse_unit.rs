//! Arbitrary bytes never panic the unit-file parser (under systemd's continuation rule and
//! Podman's), and whatever parses serialises to text that systemd parses to the same text again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use unitsmith_generator::unitfile::{Continuation, UnitFile};

fuzz_target!(|data: &[u8]| {
    for rule in [Continuation::Systemd, Continuation::Podman] {
        if let Ok(u) = UnitFile::parse_as(data, Path::new("/fuzz/x.container"), rule) {
            let text = u.to_text();
            let again = UnitFile::parse(text.as_bytes(), Path::new("/fuzz/x.container"))
                .expect("serialised text must parse");
            assert_eq!(again.to_text(), text);
        }
    }
});
