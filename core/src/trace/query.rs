//! Filters for reading the history back (`ejob history`, the web console):
//! every filter optional, newest first, paged by `limit` and `offset`.

/// Which execution records to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionQuery {
    /// Only this job.
    pub job_name: Option<String>,
    /// Only this item.
    pub item: Option<u32>,
    /// Only runs of this instance.
    pub instance_id: Option<String>,
    /// Only this outcome (`SUCCEEDED`, `FAILED`, `TIMED_OUT`, `CANCELLED`).
    pub outcome: Option<String>,
    /// Only runs started at or after this time, epoch milliseconds.
    pub since: Option<i64>,
    /// Only runs started before this time, epoch milliseconds.
    pub until: Option<i64>,
    /// At most this many records (default 100).
    pub limit: u32,
    /// Skipping this many of the newest first.
    pub offset: u32,
}

impl Default for ExecutionQuery {
    fn default() -> Self {
        ExecutionQuery { job_name: None, item: None, instance_id: None, outcome: None, since: None, until: None, limit: 100, offset: 0 }
    }
}

/// Which status records to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusQuery {
    /// Only this job.
    pub job_name: Option<String>,
    /// Only reports of this instance.
    pub instance_id: Option<String>,
    /// Only this state (`RESHARDED`, `MISFIRED`, ...).
    pub state: Option<String>,
    /// Only changes at or after this time, epoch milliseconds.
    pub since: Option<i64>,
    /// Only changes before this time, epoch milliseconds.
    pub until: Option<i64>,
    /// At most this many records (default 100).
    pub limit: u32,
    /// Skipping this many of the newest first.
    pub offset: u32,
}

impl Default for StatusQuery {
    fn default() -> Self {
        StatusQuery { job_name: None, instance_id: None, state: None, since: None, until: None, limit: 100, offset: 0 }
    }
}

/// A parameter of a built query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// A `WHERE … ORDER BY … LIMIT … OFFSET …` tail with numbered
/// placeholders (`$1`, which both SQLite and PostgreSQL accept), built from
/// the filters that are set.
pub(crate) struct Filter {
    conditions: Vec<String>,
    pub(crate) params: Vec<Param>,
}

impl Filter {
    pub(crate) fn new() -> Self {
        Filter { conditions: Vec::new(), params: Vec::new() }
    }

    pub(crate) fn add(&mut self, column_and_op: &str, value: Option<Param>) {
        if let Some(value) = value {
            self.params.push(value);
            self.conditions.push(format!("{column_and_op} ${}", self.params.len()));
        }
    }

    /// The SQL tail, newest first by `time_column`.
    pub(crate) fn tail(&self, time_column: &str, limit: u32, offset: u32) -> String {
        let filter = if self.conditions.is_empty() { String::new() } else { format!(" WHERE {}", self.conditions.join(" AND ")) };
        format!("{filter} ORDER BY {time_column} DESC, id DESC LIMIT {limit} OFFSET {offset}")
    }
}

impl ExecutionQuery {
    pub(crate) fn filter(&self) -> Filter {
        let mut f = Filter::new();
        f.add("job_name =", self.job_name.clone().map(Param::Text));
        f.add("sharding_item =", self.item.map(|i| Param::Int(i.into())));
        f.add("instance_id =", self.instance_id.clone().map(Param::Text));
        f.add("outcome =", self.outcome.clone().map(|o| Param::Text(o.to_uppercase())));
        f.add("start_time >=", self.since.map(Param::Int));
        f.add("start_time <", self.until.map(Param::Int));
        f
    }
}

impl StatusQuery {
    pub(crate) fn filter(&self) -> Filter {
        let mut f = Filter::new();
        f.add("job_name =", self.job_name.clone().map(Param::Text));
        f.add("instance_id =", self.instance_id.clone().map(Param::Text));
        f.add("state =", self.state.clone().map(|s| Param::Text(s.to_uppercase())));
        f.add("creation_time >=", self.since.map(Param::Int));
        f.add("creation_time <", self.until.map(Param::Int));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_filters_set_are_in_the_sql_in_order() {
        let query = ExecutionQuery { job_name: Some("j".into()), outcome: Some("failed".into()), since: Some(5), limit: 10, offset: 20, ..Default::default() };
        let filter = query.filter();
        assert_eq!(
            filter.tail("start_time", query.limit, query.offset),
            " WHERE job_name = $1 AND outcome = $2 AND start_time >= $3 ORDER BY start_time DESC, id DESC LIMIT 10 OFFSET 20"
        );
        assert_eq!(filter.params, vec![Param::Text("j".into()), Param::Text("FAILED".into()), Param::Int(5)]);
        assert_eq!(StatusQuery::default().filter().tail("creation_time", 100, 0), " ORDER BY creation_time DESC, id DESC LIMIT 100 OFFSET 0");
    }
}
