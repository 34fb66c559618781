//! What a trigger request (`trigger/{instanceId}`) carries. Java writes
//! anything there (its console, the time) and so did we: the content is
//! never used as a fire time, a trigger runs now. Ours now write
//! `{"at": epochMs}`, with `"overlap"` for a trigger that overrides the
//! job's overlap policy for items still running (see [`crate::overlap`]).

use crate::overlap::OverlapPolicy;

/// A trigger request's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TriggerRequest {
    /// What to do with items still running when the trigger comes; `None`:
    /// they run once more when they end (the default).
    pub overlap: Option<OverlapPolicy>,
}

impl TriggerRequest {
    /// The node's data, written at `now` (epoch ms).
    pub fn to_bytes(self, now: i64) -> Vec<u8> {
        let mut value = serde_json::json!({ "at": now });
        if let Some(policy) = self.overlap {
            value["overlap"] = policy.as_str().into();
        }
        value.to_string().into_bytes()
    }

    /// Reads a request: empty and a bare number (Java's, our older ones)
    /// are plain triggers; `Err` names what could not be read (the trigger
    /// then runs as a plain one).
    pub fn parse(data: &[u8]) -> Result<TriggerRequest, String> {
        let text = String::from_utf8_lossy(data);
        let text = text.trim();
        if text.is_empty() || text.parse::<i64>().is_ok() {
            return Ok(TriggerRequest::default());
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|_| format!("unreadable data `{}`", text.escape_debug()))?;
        match value.get("overlap") {
            None | Some(serde_json::Value::Null) => Ok(TriggerRequest::default()),
            Some(serde_json::Value::String(name)) => {
                OverlapPolicy::parse(name).map(|policy| TriggerRequest { overlap: Some(policy) }).map_err(|e| e.to_string())
            }
            Some(other) => Err(format!("unreadable overlap `{other}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_java_ones_are_plain_triggers() {
        for overlap in [None, Some(OverlapPolicy::CancelOther), Some(OverlapPolicy::Skip)] {
            let request = TriggerRequest { overlap };
            assert_eq!(TriggerRequest::parse(&request.to_bytes(1_700_000_000_000)), Ok(request));
        }
        assert_eq!(TriggerRequest::parse(b""), Ok(TriggerRequest::default()), "Java's console");
        assert_eq!(TriggerRequest::parse(b"1700000000000"), Ok(TriggerRequest::default()), "our older requests");
        assert!(TriggerRequest::parse(b"garbage").unwrap_err().contains("garbage"));
        assert!(TriggerRequest::parse(br#"{"overlap":"NOPE"}"#).unwrap_err().contains("NOPE"));
    }
}
