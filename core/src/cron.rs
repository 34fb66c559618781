//! Cron expressions as ElasticJob users write them: Quartz syntax with a
//! seconds field, `?`, `L`, `W`, `#`, `0/5` steps, names, Quartz weekday
//! numbers (1 = Sunday … 7 = Saturday) and an optional year, evaluated in a
//! time zone. Parsing is done by the `croner` crate in its Quartz modes (the
//! `cron` crate has no `L`/`W`/`#`).
//!
//! Daylight saving: a local time skipped by the spring change fires once at
//! the transition; one repeated by the autumn change fires once when the
//! hour field names it, and in both passes when the hour is a wildcard or a
//! step (an interval keeps its real-time period). The tests pin both.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// A parsed cron expression bound to a time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    cron: Cron,
    zone: Zone,
}

/// Where fire times are computed: a named zone, or a fixed offset such as
/// ElasticJob's `GMT+08:00`.
#[derive(Debug, Clone, Copy)]
enum Zone {
    Named(Tz),
    Fixed(chrono::FixedOffset),
}

impl CronSchedule {
    /// Parses a Quartz expression; `time_zone` is an IANA name or
    /// `GMT+08:00`. `None` or empty means UTC (Java ElasticJob uses the
    /// JVM's default zone: set `timeZone` explicitly when mixing both).
    pub fn parse(expression: &str, time_zone: Option<&str>) -> Result<Self> {
        let zone = parse_zone(time_zone)?;
        let trimmed = expression.trim();
        let fields = trimmed.split_whitespace().count();
        if !(6..=7).contains(&fields) {
            return Err(Error::invalid(
                "cron",
                expression,
                format!("needs 6 or 7 fields (second minute hour day-of-month month day-of-week [year]), found {fields}"),
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Optional)
            .alternative_weekdays(true)
            .sloppy_ranges(true)
            .build()
            .parse(trimmed)
            .map_err(|e| Error::invalid("cron", expression, e.to_string()))?;
        Ok(CronSchedule { expression: trimmed.to_string(), cron, zone })
    }

    /// The first fire time strictly after `after`, if there is one.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.zone {
            Zone::Named(tz) => {
                let local = after.with_timezone(&tz);
                self.cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
            }
            Zone::Fixed(offset) => {
                let local = after.with_timezone(&offset);
                self.cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
            }
        }
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }
}

fn parse_zone(time_zone: Option<&str>) -> Result<Zone> {
    let name = time_zone.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Ok(Zone::Named(Tz::UTC));
    }
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(Zone::Named(tz));
    }
    // Java's `GMT+08:00` / `GMT-5` / `UTC+8` style.
    let offset = name.strip_prefix("GMT").or_else(|| name.strip_prefix("UTC")).and_then(parse_offset);
    offset.map(Zone::Fixed).ok_or_else(|| {
        Error::invalid("timeZone", name, "is not an IANA time zone (e.g. `Asia/Shanghai`) or `GMT+08:00`")
    })
}

/// `+8`, `+08:00` or, as Java also reads them, `+0800`.
fn parse_offset(text: &str) -> Option<chrono::FixedOffset> {
    let (sign, rest) = match text.chars().next()? {
        '+' => (1, &text[1..]),
        '-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if rest.len() == 4 => (rest[..2].parse::<i32>().ok()?, rest[2..].parse::<i32>().ok()?),
        None => (rest.parse::<i32>().ok()?, 0),
    };
    if hours > 18 || minutes > 59 {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// `time_zone` as Java ElasticJob accepts it in a `config` node: Java
/// takes only `GMT…` forms (`JobScheduleController.parseTimeZoneString`), so
/// an IANA zone without daylight saving, such as `Asia/Shanghai`, is written
/// as its offset (`GMT+08:00`). A zone with daylight saving has no such
/// form; it is kept as given (`None` here), which Java instances refuse.
pub fn java_time_zone(time_zone: &str) -> Option<String> {
    use chrono::{Offset, TimeZone};
    let name = time_zone.trim();
    if name.is_empty() || name.starts_with("GMT") {
        return Some(name.to_string());
    }
    let offset_of = |zone: Zone| -> Option<i32> {
        // The offsets of the next two years, sampled every month: a zone
        // whose offset never changes has a fixed equivalent.
        let now = Utc::now();
        let offsets: Vec<i32> = (0..24)
            .map(|month| now + chrono::Duration::days(30 * month))
            .map(|at| match zone {
                Zone::Named(tz) => tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc(),
                Zone::Fixed(offset) => offset.local_minus_utc(),
            })
            .collect();
        offsets.iter().all(|&o| o == offsets[0]).then_some(offsets[0])
    };
    let seconds = offset_of(parse_zone(Some(name)).ok()?)?;
    let (sign, minutes) = if seconds < 0 { ('-', -seconds / 60) } else { ('+', seconds / 60) };
    Some(format!("GMT{sign}{:02}:{:02}", minutes / 60, minutes % 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn next(expr: &str, after: DateTime<Utc>) -> DateTime<Utc> {
        CronSchedule::parse(expr, None).unwrap().next_after(after).unwrap()
    }

    #[test]
    fn zones_are_written_in_the_form_java_reads() {
        assert_eq!(java_time_zone("Asia/Shanghai").as_deref(), Some("GMT+08:00"));
        assert_eq!(java_time_zone("Asia/Kolkata").as_deref(), Some("GMT+05:30"));
        assert_eq!(java_time_zone("UTC+8").as_deref(), Some("GMT+08:00"));
        assert_eq!(java_time_zone("GMT+0800").as_deref(), Some("GMT+0800"));
        assert_eq!(java_time_zone("Europe/Berlin"), None, "daylight saving has no GMT form");
        assert!(CronSchedule::parse("0 0 8 * * ?", Some("GMT+0800")).is_ok(), "Java's hhmm form");
    }

    #[test]
    fn every_five_seconds() {
        assert_eq!(next("0/5 * * * * ?", utc(2026, 1, 1, 0, 0, 0)), utc(2026, 1, 1, 0, 0, 5));
        assert_eq!(next("0/5 * * * * ?", utc(2026, 1, 1, 0, 0, 7)), utc(2026, 1, 1, 0, 0, 10));
        assert_eq!(next("* * * * * ?", utc(2026, 1, 1, 0, 0, 7)), utc(2026, 1, 1, 0, 0, 8));
    }

    #[test]
    fn weekday_names_and_quartz_numbers() {
        // 2026-01-01 is a Thursday; the next Wednesday noon is 2026-01-07.
        assert_eq!(next("0 0 12 ? * WED", utc(2026, 1, 1, 0, 0, 0)), utc(2026, 1, 7, 12, 0, 0));
        // Quartz 4 = Wednesday (1 = Sunday).
        assert_eq!(next("0 0 12 ? * 4", utc(2026, 1, 1, 0, 0, 0)), utc(2026, 1, 7, 12, 0, 0));
        assert_eq!(next("0 0 9 ? * MON-FRI", utc(2026, 1, 3, 0, 0, 0)), utc(2026, 1, 5, 9, 0, 0));
    }

    #[test]
    fn last_day_nth_weekday_and_nearest_weekday() {
        assert_eq!(next("0 15 10 L * ?", utc(2026, 2, 1, 0, 0, 0)), utc(2026, 2, 28, 10, 15, 0));
        // Third Friday (Quartz 6) of January 2026: the 16th.
        assert_eq!(next("0 15 10 ? * 6#3", utc(2026, 1, 1, 0, 0, 0)), utc(2026, 1, 16, 10, 15, 0));
        // 2026-02-01 is a Sunday: 1W is Monday the 2nd.
        assert_eq!(next("0 0 12 1W * ?", utc(2026, 1, 5, 0, 0, 0)), utc(2026, 2, 2, 12, 0, 0));
    }

    #[test]
    fn optional_year_field() {
        assert_eq!(next("0 0 12 * * ? 2027", utc(2026, 6, 1, 0, 0, 0)), utc(2027, 1, 1, 12, 0, 0));
        assert!(CronSchedule::parse("0 0 12 * * ? 2020", None).unwrap().next_after(utc(2026, 1, 1, 0, 0, 0)).is_none());
    }

    #[test]
    fn time_zones_shift_fire_times() {
        let shanghai = CronSchedule::parse("0 0 12 * * ?", Some("Asia/Shanghai")).unwrap();
        assert_eq!(shanghai.next_after(utc(2026, 1, 1, 0, 0, 0)).unwrap(), utc(2026, 1, 1, 4, 0, 0));
        let gmt8 = CronSchedule::parse("0 0 12 * * ?", Some("GMT+08:00")).unwrap();
        assert_eq!(gmt8.next_after(utc(2026, 1, 1, 0, 0, 0)).unwrap(), utc(2026, 1, 1, 4, 0, 0));
        let utc_default = CronSchedule::parse("0 0 12 * * ?", None).unwrap();
        assert_eq!(utc_default.next_after(utc(2026, 1, 1, 0, 0, 0)).unwrap(), utc(2026, 1, 1, 12, 0, 0));
    }

    /// Every fire of `expr` in New York from `from` (UTC) for `hours`, as local wall-clock text.
    fn new_york_fires(expr: &str, from: DateTime<Utc>, hours: i64) -> Vec<String> {
        let schedule = CronSchedule::parse(expr, Some("America/New_York")).unwrap();
        let mut fires = Vec::new();
        let mut t = from;
        while let Some(next) = schedule.next_after(t).filter(|n| *n < from + chrono::Duration::hours(hours)) {
            fires.push(next.with_timezone(&chrono_tz::America::New_York).format("%m-%d %H:%M %Z").to_string());
            t = next;
        }
        fires
    }

    #[test]
    fn daylight_saving_a_skipped_local_time_fires_once_at_the_transition() {
        // 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 does not exist that day.
        let fires = new_york_fires("0 30 2 * * ?", utc(2026, 3, 7, 12, 0, 0), 48);
        assert_eq!(fires, ["03-08 03:00 EDT", "03-09 02:30 EDT"]);
        // An interval keeps its real-time period across the gap.
        let fires = new_york_fires("0 0/30 * * * ?", utc(2026, 3, 8, 6, 0, 0), 2);
        assert_eq!(fires, ["03-08 01:30 EST", "03-08 03:00 EDT", "03-08 03:30 EDT"]);
    }

    #[test]
    fn daylight_saving_a_repeated_local_time_fires_once_when_the_hour_is_named() {
        // 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens twice.
        let fires = new_york_fires("0 30 1 * * ?", utc(2026, 10, 31, 12, 0, 0), 48);
        assert_eq!(fires, ["11-01 01:30 EDT", "11-02 01:30 EST"]);
        // A wildcard or stepped hour is an interval: it runs in both passes
        // of the repeated hour, every 30 minutes of real time.
        let fires = new_york_fires("0 0/30 * * * ?", utc(2026, 11, 1, 4, 45, 0), 2);
        assert_eq!(fires, ["11-01 01:00 EDT", "11-01 01:30 EDT", "11-01 01:00 EST", "11-01 01:30 EST"]);
    }

    #[test]
    fn bad_expressions_name_the_field_and_value() {
        for bad in ["* * *", "61 * * * * ?", "0 0 12 ? * 9", "hello world", "0 0 25 * * ?", ""] {
            let err = CronSchedule::parse(bad, None).unwrap_err().to_string();
            assert!(err.contains("cron") && err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
        let err = CronSchedule::parse("* * * * * ?", Some("Mars/Olympus")).unwrap_err().to_string();
        assert!(err.contains("timeZone") && err.contains("Mars/Olympus"), "{err}");
    }
}

