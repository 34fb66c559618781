//! When a job's schedule is in force: the props `startAt` and `endAt`
//! (our extension to ElasticJob, Temporal's schedule start/end). The cron
//! fires only at times in `[startAt, endAt)`; before, the job waits for its
//! first fire at or after `startAt`; from `endAt` on, it never fires again
//! by its cron (triggers still run). Fires before `startAt` are not missed
//! fires: nothing catches them up. `maxFires` (Temporal's remaining
//! actions) ends the schedule after that many cron fires from `startAt`:
//! every instance computes the same last fire from the cron, so the count
//! needs no coordination and survives restarts.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Prop: the first instant the cron may fire, RFC 3339 (`2027-01-01T00:00:00Z`).
pub const START_AT_PROP: &str = "startAt";
/// Prop: the instant from which the cron never fires, RFC 3339.
pub const END_AT_PROP: &str = "endAt";
/// Prop: how many cron fires from `startAt` the schedule has in all.
pub const MAX_FIRES_PROP: &str = "maxFires";
/// The largest `maxFires` accepted (the last fire is found by walking the cron).
pub const MAX_FIRES: u32 = 100_000;

/// The instants a schedule is in force between, epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScheduleBounds {
    /// Fires before this do not happen.
    pub start: Option<i64>,
    /// Fires at or after this do not happen.
    pub end: Option<i64>,
    /// At most this many fires from `start` (see [`Self::with_fire_limit`]).
    pub max_fires: Option<u32>,
}

impl ScheduleBounds {
    /// Reads the bounds from a job's props; an error names the prop and its value.
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<Self> {
        let read = |prop: &str| -> Result<Option<i64>> {
            let Some(value) = props.get(prop) else { return Ok(None) };
            chrono::DateTime::parse_from_rfc3339(value.trim()).map(|t| Some(t.timestamp_millis())).map_err(|e| {
                Error::invalid(prop, value, format!("must be an RFC 3339 date and time such as 2027-01-01T00:00:00Z ({e})"))
            })
        };
        let max_fires = match props.get(MAX_FIRES_PROP) {
            None => None,
            Some(value) => match value.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_FIRES).contains(&n) => Some(n),
                _ => return Err(Error::invalid(MAX_FIRES_PROP, value, format!("must be a whole number from 1 to {MAX_FIRES}"))),
            },
        };
        let bounds = ScheduleBounds { start: read(START_AT_PROP)?, end: read(END_AT_PROP)?, max_fires };
        if let (Some(_), None) = (bounds.max_fires, bounds.start) {
            return Err(Error::invalid(
                MAX_FIRES_PROP,
                &props[MAX_FIRES_PROP],
                format!("needs {START_AT_PROP}, the instant the fires are counted from"),
            ));
        }
        if let (Some(start), Some(end)) = (bounds.start, bounds.end) {
            if end <= start {
                return Err(Error::invalid(END_AT_PROP, &props[END_AT_PROP], format!("must be after {START_AT_PROP} `{}`", props[START_AT_PROP])));
            }
        }
        Ok(bounds)
    }

    /// The bounds with `maxFires` turned into an end: just after the last
    /// fire it allows, given the cron's `next(t)`.
    pub fn with_fire_limit(self, next: impl Fn(i64) -> Option<i64>) -> Self {
        let (Some(limit), Some(start)) = (self.max_fires, self.start) else { return self };
        let mut last = None;
        let mut after = start - 1;
        for _ in 0..limit {
            match self.next_fire(after, &next) {
                Some(fire) => {
                    last = Some(fire);
                    after = fire;
                }
                None => return self,
            }
        }
        match last {
            Some(fire) => ScheduleBounds { end: Some(self.end.map_or(fire + 1, |end| end.min(fire + 1))), ..self },
            None => self,
        }
    }

    /// The first fire after `after` that the bounds let happen, given the
    /// cron's `next(t)` (its first fire strictly after `t`).
    pub fn next_fire(self, after: i64, next: impl Fn(i64) -> Option<i64>) -> Option<i64> {
        let after = match self.start {
            Some(start) if after < start => start - 1,
            _ => after,
        };
        next(after).filter(|&fire| self.end.is_none_or(|end| fire < end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fires_only_between_start_and_end() {
        let every_second = |t: i64| Some((t.div_euclid(1000) + 1) * 1000);
        let bounds = ScheduleBounds { start: Some(5_000), end: Some(8_000), max_fires: None };
        assert_eq!(bounds.next_fire(0, every_second), Some(5_000), "the start itself may fire");
        assert_eq!(bounds.next_fire(5_000, every_second), Some(6_000));
        assert_eq!(bounds.next_fire(6_999, every_second), Some(7_000));
        assert_eq!(bounds.next_fire(7_000, every_second), None, "the end never fires");
        assert_eq!(ScheduleBounds::default().next_fire(7_000, every_second), Some(8_000));
    }

    #[test]
    fn bounds_parse_from_rfc3339_and_bad_ones_name_the_prop() {
        let bounds = ScheduleBounds::from_props(&props(&[("startAt", "2027-01-01T00:00:00Z"), ("endAt", "2027-01-01T08:00:00+08:00")]));
        assert!(bounds.is_err(), "the end (midnight UTC) is not after the start");
        let bounds = ScheduleBounds::from_props(&props(&[("startAt", "2027-01-01T00:00:00Z"), ("endAt", "2027-01-01T09:00:00+08:00")])).unwrap();
        assert_eq!(bounds.end.unwrap() - bounds.start.unwrap(), 3_600_000);
        let error = ScheduleBounds::from_props(&props(&[("endAt", "tomorrow")])).unwrap_err().to_string();
        assert!(error.contains("endAt") && error.contains("tomorrow") && error.contains("RFC 3339"), "{error}");
        assert_eq!(ScheduleBounds::from_props(&props(&[])).unwrap(), ScheduleBounds::default());
        let error = ScheduleBounds::from_props(&props(&[("maxFires", "3")])).unwrap_err().to_string();
        assert!(error.contains("maxFires") && error.contains("startAt"), "{error}");
        let error = ScheduleBounds::from_props(&props(&[("startAt", "2027-01-01T00:00:00Z"), ("maxFires", "0")])).unwrap_err().to_string();
        assert!(error.contains("maxFires `0`"), "{error}");
    }

    #[test]
    fn max_fires_ends_the_schedule_after_that_many_fires_from_the_start() {
        let every_second = |t: i64| Some((t.div_euclid(1000) + 1) * 1000);
        let bounds = ScheduleBounds { start: Some(4_500), end: None, max_fires: Some(3) }.with_fire_limit(every_second);
        assert_eq!(bounds.end, Some(7_001), "fires 5000, 6000, 7000");
        let fires: Vec<i64> = std::iter::successors(bounds.next_fire(0, every_second), |&t| bounds.next_fire(t, every_second)).collect();
        assert_eq!(fires, vec![5_000, 6_000, 7_000]);
        let earlier_end = ScheduleBounds { start: Some(4_500), end: Some(6_500), max_fires: Some(3) }.with_fire_limit(every_second);
        assert_eq!(earlier_end.end, Some(6_500), "an earlier endAt wins");
    }
}
