//! Mailing lists (R-LIST-1..6): `list create|delete|show|invite|consent`.

use super::{admin, print_json};
use clap::Subcommand;
use mailhost_admin::views::ConsentRecord;
use mailhost_config::Config;
use std::io::Write;

#[derive(Subcommand)]
pub enum ListCmd {
    /// A new list `name@domain`, owned by a mailbox of the domain.
    Create {
        list: String,
        #[arg(long)]
        owner: String,
        /// What members see as the list's name (default: its local part).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Changes a list: who may post (members, owner, moderated).
    Set {
        list: String,
        #[arg(long, value_parser = ["members", "owner", "moderated"])]
        posting: String,
    },
    /// Deletes the list, its members and held posts; its consent ledger stays.
    Delete { list: String },
    /// The list and its members with their states.
    Show {
        list: String,
        #[arg(long, default_value = "table")]
        format: ShowFormat,
    },
    /// Sends each address a confirmation request; only those who confirm
    /// join (R-LIST-2: no imported or purchased lists).
    Invite {
        list: String,
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Removes and suppresses a member at once (a complaint reaching the
    /// owner); recorded in the ledger.
    Remove {
        list: String,
        address: String,
        /// The member asked to be forgotten: the request itself is
        /// recorded (the ledger is append-only proof) and the address
        /// suppressed.
        #[arg(long)]
        erasure: bool,
    },
    /// The consent ledger, oldest first: the proof of every opt-in (R-LIST-1).
    Consent {
        list: String,
        #[arg(long, default_value = "csv")]
        format: ConsentFormat,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ShowFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ConsentFormat {
    Csv,
    Json,
}

/// Ledger events read per page while exporting.
const PAGE: i64 = 5000;

pub async fn list(config: Config, cmd: ListCmd) -> Result<(), String> {
    let e = |e: mailhost_admin::Error| e.to_string();
    let (a, c) = admin(config).await?;
    match cmd {
        ListCmd::Create { list, owner, name } => {
            let l = a.list_create(&c, &list, &owner, &name).await.map_err(e)?;
            println!("created list {} (owner {})", l.address, l.owner);
        }
        ListCmd::Set { list, posting } => {
            let l = a.list_set_posting(&c, &list, &posting).await.map_err(e)?;
            println!("{}: posting {}", l.address, l.posting);
        }
        ListCmd::Delete { list } => {
            a.list_delete(&c, &list).await.map_err(e)?;
            println!("deleted list {list}; its consent ledger is kept");
        }
        ListCmd::Show { list, format } => {
            let (l, members) = a.list_show(&c, &list).await.map_err(e)?;
            match format {
                ShowFormat::Json => print_json(&serde_json::json!({
                    "list": l,
                    "members": members.iter().map(|(a, s)| serde_json::json!({"address": a, "state": s})).collect::<Vec<_>>(),
                }))?,
                ShowFormat::Table => {
                    println!("list:     {}", l.address);
                    println!("name:     {}", l.name);
                    println!("owner:    {}", l.owner);
                    println!("posting:  {}", l.posting);
                    println!("members:  {} confirmed", l.members);
                    println!("created:  {}", l.created);
                    for (addr, state) in &members {
                        println!("  {addr:<40} {state}");
                    }
                }
            }
        }
        ListCmd::Invite { list, addresses } => {
            let out = a.list_invite(&c, &list, &addresses).await.map_err(e)?;
            let mut refused = 0;
            for o in &out {
                println!("{:<40} {:<8} {}", o.address, o.status, o.message);
                refused += usize::from(o.status == "refused");
            }
            if refused == out.len() {
                return Err(format!("no invitation was sent ({refused} refused)"));
            }
        }
        ListCmd::Remove {
            list,
            address,
            erasure,
        } => {
            if erasure {
                let changed = a.list_erase(&c, &list, &address).await.map_err(e)?;
                let now = if changed { "now" } else { "already" };
                println!("{address}: erasure request recorded on {list}; the address is {now} suppressed");
            } else if a.list_remove(&c, &list, &address).await.map_err(e)? {
                println!("{address} unsubscribed from {list} and suppressed");
            } else {
                println!("{address} was not on {list}");
            }
        }
        ListCmd::Consent { list, format } => {
            let stdout = std::io::stdout();
            let out = std::io::BufWriter::new(stdout.lock());
            let mut sink = match format {
                ConsentFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
                ConsentFormat::Json => Sink::Json(out, true),
            };
            sink.start()?;
            let mut after = 0;
            loop {
                let page = a.list_consent(&c, &list, after, PAGE).await.map_err(e)?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for ev in &page {
                    sink.event(ev)?;
                }
            }
            sink.finish()?;
        }
    }
    Ok(())
}

/// Where the consent export goes: written as it is read, page by page.
enum Sink<W: Write> {
    Csv(Box<csv::Writer<W>>),
    /// The writer, and whether no event was written yet.
    Json(W, bool),
}

impl<W: Write> Sink<W> {
    fn start(&mut self) -> Result<(), String> {
        match self {
            Sink::Csv(c) => c
                .write_record(ConsentRecord::CSV_HEADER)
                .map_err(|e| e.to_string()),
            Sink::Json(w, _) => w.write_all(b"[").map_err(|e| e.to_string()),
        }
    }

    fn event(&mut self, ev: &ConsentRecord) -> Result<(), String> {
        match self {
            Sink::Csv(c) => c.write_record(ev.csv_row()).map_err(|e| e.to_string()),
            Sink::Json(w, first) => {
                if !std::mem::take(first) {
                    w.write_all(b",\n").map_err(|e| e.to_string())?;
                }
                serde_json::to_writer(w, ev).map_err(|e| e.to_string())
            }
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Sink::Csv(mut c) => c.flush().map_err(|e| e.to_string()),
            Sink::Json(mut w, _) => {
                w.write_all(b"]\n").map_err(|e| e.to_string())?;
                w.flush().map_err(|e| e.to_string())
            }
        }
    }
}
