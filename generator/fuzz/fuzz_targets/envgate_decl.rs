//! Arbitrary `.envgate` declarations never panic the generator: each becomes its units or an
//! error located in the file, and every unit it makes has a name systemd accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use unitsmith_generator::unitfile::UnitFile;
use unitsmith_generator::{envgate, unitname};

fuzz_target!(|data: &[u8]| {
    let Ok(unit) = UnitFile::parse(data, Path::new("/fuzz/gate.envgate")) else {
        return;
    };
    match envgate::convert(&unit, "/usr/local/bin/unitsmith") {
        Ok(units) => {
            for u in &units {
                // `NAME.service`, or `CONSUMER.d/FILE.conf`: the unit part must be valid.
                let unit_name = u.filename.split('/').next().unwrap_or_default();
                let unit_name = unit_name.strip_suffix(".d").unwrap_or(unit_name);
                assert!(
                    unitname::check(unit_name).is_ok(),
                    "invalid unit name {:?}",
                    u.filename
                );
                let _ = u.to_text();
            }
        }
        Err(e) => {
            let msg = envgate::describe_error(&unit, &e);
            assert!(msg.starts_with("/fuzz/gate.envgate"), "{msg}");
        }
    }
});
