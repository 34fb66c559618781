//! `ejob config get JOB` and `ejob config set JOB KEY=VALUE…`: a job's
//! configuration as the registry holds it, and changes to it checked by
//! the core's own validation before anything is written.

use crate::args::ConfigCommand;
use crate::explain;
use crate::list::Format;
use elasticjob::JobOperator;

pub async fn execute(operator: &JobOperator, command: &ConfigCommand, format: Format) -> Result<(), String> {
    match command {
        ConfigCommand::Get { job } => {
            let config = operator.config(job).await.map_err(explain)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string(&config).map_err(|e| e.to_string())?),
                Format::Table => print!("{}", config.to_yaml().map_err(explain)?),
            }
            Ok(())
        }
        ConfigCommand::Set { job, changes } => {
            let mut config = operator.config(job).await.map_err(explain)?;
            for change in changes {
                let (key, value) = change
                    .split_once('=')
                    .ok_or(format!("invalid change `{change}`: must be KEY=VALUE (e.g. cron='0/10 * * * * ?')"))?;
                if key == "jobName" {
                    return Err(format!("invalid change `{change}`: a job cannot be renamed"));
                }
                config.set(key.trim(), value).map_err(explain)?;
            }
            operator.update_config(&config).await.map_err(explain)?;
            println!("updated `{job}`: {}", changes.join(" "));
            Ok(())
        }
    }
}
