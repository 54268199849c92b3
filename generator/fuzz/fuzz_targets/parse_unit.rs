//! Arbitrary bytes never panic the unit-file parser, and whatever parses serialises to text
//! that parses to the same text again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use unitsmith_generator::unitfile::UnitFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = UnitFile::parse(data, Path::new("/fuzz/x.container")) {
        let text = u.to_text();
        let again = UnitFile::parse(text.as_bytes(), Path::new("/fuzz/x.container"))
            .expect("serialised text must parse");
        assert_eq!(again.to_text(), text);
    }
});
