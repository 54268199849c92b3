//! `.envgate` declarations → a fast populate unit, a detached wait unit, consumer drop-ins.
//! (Being implemented: see issue "Env gates".)

use crate::quadlet::ConvertError;
use crate::unitfile::UnitFile;

/// The units one declaration produces. Each `UnitFile::filename` is its path relative to the
/// generator's output directory (`NAME.service`, `NAME-wait.service`,
/// `CONSUMER.d/50-unitsmith-envgate-NAME.conf`). `helper` is the `unitsmith` binary's path.
pub fn convert(unit: &UnitFile, helper: &str) -> Result<Vec<UnitFile>, ConvertError> {
    let _ = (unit, helper);
    Err(ConvertError::new("env gates are not supported by this build yet"))
}

/// The service a declaration is known by: `NAME.service` for `NAME.envgate`.
pub fn service_name(filename: &str) -> String {
    format!("{}.service", filename.trim_end_matches(".envgate"))
}
