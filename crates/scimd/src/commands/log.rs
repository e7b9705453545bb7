//! `scimd provider log ID`: a provider's provisioning log, filtered like the console's and
//! the admin API's, as a table, as blocks with each failure's error and masked body
//! (`--long`), as JSON, or followed as it grows (`--follow`).

use std::io::Write;
use std::time::Duration;

use scimd_core::Core;
use scimd_core::request_log::{LogEntry, LogFilter, LogQuery, MAX_PAGE};
use scimd_core::views::{latency_ms, log_entry_json};
use serde_json::Value;

use crate::cli::ProviderLogArgs;
use crate::table;

/// How often `--follow` looks for new entries (the server writes them a second apart).
const POLL: Duration = Duration::from_millis(500);

pub async fn run(core: &Core, a: ProviderLogArgs) -> anyhow::Result<()> {
    let query = LogQuery {
        failed: Some(a.failed),
        status: a.status.clone(),
        path: a.path.clone(),
        since: a.since.clone(),
        until: a.until.clone(),
        before: a.before,
        after: None,
        limit: Some(a.limit),
    };
    let filter = query.filter(a.limit)?;
    let page = core.provider_log(&a.id, &filter).await?;
    if a.follow {
        return follow(core, &a, filter, page.entries).await;
    }
    if a.json {
        let list: Vec<Value> = page.entries.iter().map(log_entry_json).collect();
        println!("{}", serde_json::to_string_pretty(&Value::Array(list))?);
        return Ok(());
    }
    if page.entries.is_empty() {
        println!("No requests of '{}' in the provisioning log match.", a.id);
        return Ok(());
    }
    if a.long {
        page.entries.iter().for_each(print_long);
    } else {
        print_table(&page.entries);
    }
    if let Some(before) = page.next_before {
        eprintln!(
            "older entries: scimd provider log {} --before {before} (with the same filters)",
            a.id
        );
    }
    Ok(())
}

/// `scimType: detail` of a failure (a Bulk answered 200 whose operations failed included).
fn error_of(e: &LogEntry) -> String {
    match (&e.scim_type, &e.detail) {
        (Some(t), Some(d)) => format!("{t}: {d}"),
        (None, Some(d)) => d.clone(),
        (Some(t), None) => t.clone(),
        (None, None) if e.failed => "failed".to_owned(),
        (None, None) => String::new(),
    }
}

fn print_table(entries: &[LogEntry]) {
    let mut t = table::new(&["TIME", "METHOD", "STATUS", "MS", "PATH", "CLIENT", "ERROR"]);
    for e in entries {
        t.add_row(vec![
            e.time.to_rfc3339(),
            e.method.clone(),
            e.status.to_string(),
            format!("{:.1}", latency_ms(e.latency_us)),
            e.path.clone(),
            e.client.clone(),
            error_of(e),
        ]);
    }
    table::align_right(&mut t, 2);
    table::align_right(&mut t, 3);
    table::print(&t);
}

/// One line per entry, for following.
fn print_line(e: &LogEntry) {
    println!(
        "{}  {:<6} {:>3} {:>9.1} ms  {}  {}  {}",
        e.time,
        e.method,
        e.status,
        latency_ms(e.latency_us),
        e.path,
        e.client,
        error_of(e)
    );
}

fn print_long(e: &LogEntry) {
    print_line(e);
    println!(
        "    request {}  agent {}",
        e.request_id,
        e.user_agent.as_deref().unwrap_or("-")
    );
    if e.failed {
        println!("    error   {}", error_of(e));
        if let Some(body) = &e.body {
            println!("    body    {body}");
        }
    }
    println!();
}

/// Print the page (oldest first), then every new entry as it is written, until interrupted.
async fn follow(core: &Core, a: &ProviderLogArgs, filter: LogFilter, first: Vec<LogEntry>) -> anyhow::Result<()> {
    let show = |e: &LogEntry| {
        if a.json {
            println!("{}", log_entry_json(e));
        } else if a.long {
            print_long(e);
        } else {
            print_line(e);
        }
    };
    let mut last = first.first().map_or(0, |e| e.seq);
    first.iter().rev().for_each(show);
    loop {
        std::io::stdout().flush()?;
        let next = LogFilter {
            before: None,
            after: Some(last),
            limit: MAX_PAGE,
            ..filter.clone()
        };
        let page = core.provider_log(&a.id, &next).await?;
        for e in &page.entries {
            show(e);
            last = e.seq;
        }
        if page.entries.len() < MAX_PAGE as usize {
            tokio::time::sleep(POLL).await;
        }
    }
}
