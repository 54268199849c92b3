//! Arbitrary bytes never panic the env-file reader, and what it reads, written back by the
//! writer, reads back as the same variables (what the gate writes is what the consumer gets).
#![no_main]
use libfuzzer_sys::fuzz_target;

// The reader lives in the helper binary, which has no library: its file is std-only, so it
// is compiled in here as it is.
#[allow(dead_code)]
#[path = "../../../helpers/src/envgate/envfile.rs"]
mod envfile;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = envfile::parse(data, "fuzz.env") {
        let text = envfile::render(&env);
        let again = envfile::parse(text.as_bytes(), "rendered.env")
            .unwrap_or_else(|e| panic!("rendered env does not parse: {e}\n{text}"));
        assert_eq!(again, env, "round trip changed the variables:\n{text}");
    }
});
