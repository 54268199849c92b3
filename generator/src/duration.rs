//! systemd time spans (systemd.time(7)): `30min`, `1h 30s`, `500ms`, `90` (seconds).

use std::time::Duration;

/// Parse a time span; the error says what was wrong.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty time span".into());
    }
    if t == "infinity" {
        return Err("infinity is not allowed here: every wait must be bounded".into());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "invalid time span \"{s}\": expected a number at \"{rest}\""
            ));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("invalid number in time span \"{s}\""))?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let factor = match unit {
            "" | "s" | "sec" | "second" | "seconds" => 1.0,
            "ms" | "msec" => 0.001,
            "us" | "usec" => 0.000_001,
            "m" | "min" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "w" | "week" | "weeks" => 7.0 * 86400.0,
            other => {
                return Err(format!(
                    "invalid time unit \"{other}\" in \"{s}\" (use ms, s, min, h, d)"
                ))
            }
        };
        total += n * factor;
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(parse("30min").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse("1h 30s").unwrap(), Duration::from_secs(3630));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("2.5s").unwrap(), Duration::from_millis(2500));
        assert!(parse("10 parsecs").is_err());
        assert!(parse("infinity").is_err());
        assert!(parse("").is_err());
    }
}
