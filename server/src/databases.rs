//! The databases a restore creates, renames and drops on the target's server: what the
//! connecting role may do there, a new database created like the live one, the swap of
//! names (the only moment the application is offline), the proof of row counts, and the
//! databases kept aside afterwards.
//!
//! Renaming and dropping a database cannot be done while connected to it, so these
//! statements run on the server's maintenance database (`postgres`, else `template1`).

use crate::pgtools::rows::{quote_ident, RowCounts, TableName};
use crate::target::{self, TargetUrl};
use app::api::TableProof;
use chrono::{DateTime, NaiveDateTime, Utc};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// The longest database name PostgreSQL keeps (NAMEDATALEN - 1 bytes); longer names are
/// silently cut, so the names built here are cut first, on a character boundary.
const MAX_NAME: usize = 63;

/// How long ending the other sessions of a database may take.
const END_SESSIONS_WITHIN: Duration = Duration::from_secs(10);

/// What a database is kept aside as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// The live database as it was before a swap restore.
    Before,
    /// A restored database swapped out again by a roll back.
    RolledBack,
}

impl Kept {
    pub fn as_str(self) -> &'static str {
        match self {
            Kept::Before => "before",
            Kept::RolledBack => "rolledback",
        }
    }
}

const MARK: &str = "__lifeboat_";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// `<db>__lifeboat_<what>`, `<db>` shortened when the whole would be too long.
fn derived_name(database: &str, what: &str) -> String {
    let tail = format!("{MARK}{what}");
    let mut room = MAX_NAME.saturating_sub(tail.len());
    while room > 0 && !database.is_char_boundary(room.min(database.len())) {
        room -= 1;
    }
    format!("{}{tail}", &database[..room.min(database.len())])
}

/// The database a swap restore `id` restores into.
pub fn restore_name(database: &str, id: i64) -> String {
    derived_name(database, &format!("restore_{id}"))
}

/// What the test restores of `database` are known by (their jobs and their lock).
pub fn tests_name(database: &str) -> String {
    derived_name(database, "test")
}

/// The scratch database test restore `id` restores into (dropped at its end).
pub fn test_name(database: &str, id: i64) -> String {
    derived_name(database, &format!("test_{id}"))
}

/// The name a database is kept aside under.
pub fn kept_name(database: &str, kind: Kept, at: DateTime<Utc>) -> String {
    derived_name(database, &format!("{}_{}", kind.as_str(), at.format(STAMP)))
}

/// Reads a kept name back: what it is and when it was set aside.
pub fn parse_kept(name: &str) -> Option<(Kept, DateTime<Utc>)> {
    let (_, tail) = name.rsplit_once(MARK)?;
    let (kind, stamp) = tail.rsplit_once('_')?;
    let kind = match kind {
        "before" => Kept::Before,
        "rolledback" => Kept::RolledBack,
        _ => return None,
    };
    let at = NaiveDateTime::parse_from_str(stamp, STAMP).ok()?.and_utc();
    Some((kind, at))
}

/// What the connecting role may do with the live database, and what would not follow it
/// through a rename.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    /// Superuser, or `CREATEDB`.
    pub may_create: bool,
    /// Superuser, or a member of the database's owner (needed to rename it).
    pub owns: bool,
    /// What would not follow a rename: logical replication slots and subscriptions of the
    /// live database, extensions and settings that find it by its name.
    pub tied: Vec<String>,
}

impl Capabilities {
    /// Why a swap is not possible, if it is not.
    pub fn swap_refusal(&self, database: &str) -> Option<String> {
        if !self.may_create {
            return Some(format!(
                "the role Lifeboat connects with may not create databases (no CREATEDB), so {database} cannot be restored into a new database and swapped"
            ));
        }
        if !self.owns {
            return Some(format!(
                "the role Lifeboat connects with does not own {database}, so it cannot rename it"
            ));
        }
        if !self.tied.is_empty() {
            return Some(format!(
                "{database} has things tied to its name that would not follow a rename ({}); drop or move them first, or restore in place",
                self.tied.join(", ")
            ));
        }
        None
    }
}

fn sql_error(what: &str) -> impl Fn(tokio_postgres::Error) -> String + '_ {
    move |e| format!("{what}: {}", target::describe(&e))
}

/// Reads [`Capabilities`] from the live database.
pub async fn capabilities(live: &TargetUrl) -> Result<Capabilities, String> {
    let client = target::connect(live).await?;
    let row = client
        .query_one(
            "SELECT r.rolsuper OR r.rolcreatedb, r.rolsuper OR pg_has_role(current_user, d.datdba, 'MEMBER') FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()",
            &[],
        )
        .await
        .map_err(sql_error("cannot read the role's rights"))?;
    let mut tied = vec![];
    // Extensions whose jobs or workers find the database by its name, and the settings
    // that name it for them: after a rename they would act on the restored copy (or on
    // nothing) without a word.
    for row in client
        .query(
            "SELECT 'extension ' || extname FROM pg_extension WHERE extname IN ('pg_cron', 'pglogical') \
             UNION ALL \
             SELECT 'setting ' || n || ' (it names the database)' FROM unnest(ARRAY['cron.database_name', 'pg_partman_bgw.dbname', 'pglogical.database']) n \
             WHERE current_database() = ANY (string_to_array(replace(coalesce(current_setting(n, true), ''), ' ', ''), ','))",
            &[],
        )
        .await
        .map_err(sql_error("cannot read the extensions tied to the database"))?
    {
        tied.push(row.get::<_, String>(0));
    }
    for row in client
        .query(
            "SELECT 'replication slot ' || slot_name FROM pg_replication_slots WHERE slot_type = 'logical' AND database = current_database() UNION ALL SELECT 'subscription ' || s.subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = current_database()",
            &[],
        )
        .await
        .map_err(sql_error("cannot read the replication tied to the database"))?
    {
        tied.push(row.get::<_, String>(0));
    }
    Ok(Capabilities {
        may_create: row.get(0),
        owns: row.get(1),
        tied,
    })
}

/// A session on the server's maintenance database.
pub async fn maintenance(live: &TargetUrl) -> Result<Client, String> {
    match target::connect(&live.with_database("postgres")).await {
        Ok(c) => Ok(c),
        Err(first) => target::connect(&live.with_database("template1"))
            .await
            .map_err(|_| first),
    }
}

pub async fn exists(client: &Client, name: &str) -> Result<bool, String> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            &[&name],
        )
        .await
        .map(|r| r.get(0))
        .map_err(sql_error("cannot list the databases"))
}

/// Creates `new` like `live`: owner, encoding, collation and ctype (and locale provider),
/// tablespace, from template0; then its database-level settings, grants, connection
/// limit and comment. Returns what could not be copied (settings of other roles in the
/// database need rights Lifeboat may not have).
pub async fn create_like(client: &Client, live: &str, new: &str) -> Result<Vec<String>, String> {
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(sql_error("cannot read the server version"))?
        .get(0);
    let provider = match version {
        170_000.. => "CASE datlocprovider WHEN 'i' THEN format(' LOCALE_PROVIDER icu ICU_LOCALE %L', datlocale) WHEN 'b' THEN format(' LOCALE_PROVIDER builtin BUILTIN_LOCALE %L', datlocale) ELSE '' END",
        150_000.. => "CASE datlocprovider WHEN 'i' THEN format(' LOCALE_PROVIDER icu ICU_LOCALE %L', daticulocale) ELSE '' END",
        _ => "''",
    };
    let create: Option<String> = client
        .query_opt(
            &format!(
                "SELECT format('CREATE DATABASE %I WITH OWNER %I TEMPLATE template0 ENCODING %L LC_COLLATE %L LC_CTYPE %L', $1::text, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype) || {provider} || (SELECT CASE WHEN spcname = 'pg_default' THEN '' ELSE format(' TABLESPACE %I', spcname) END FROM pg_tablespace t WHERE t.oid = dattablespace) FROM pg_database WHERE datname = $2"
            ),
            &[&new, &live],
        )
        .await
        .map_err(sql_error("cannot read how the live database was created"))?
        .map(|r| r.get(0));
    let create = create.ok_or_else(|| format!("there is no database {live}"))?;
    client
        .batch_execute(&create)
        .await
        .map_err(sql_error(&format!("cannot create the database {new}")))?;
    let mut statements: Vec<String> = vec![];
    for row in client
        .query(
            // List settings (search_path, …) are stored ready to be read back and must
            // not be quoted as one string; the rest are quoted as literals.
            "SELECT CASE WHEN s.setrole = 0 THEN format('ALTER DATABASE %I SET %s = ', $1::text, split_part(c, '=', 1)) ELSE format('ALTER ROLE %I IN DATABASE %I SET %s = ', pg_get_userbyid(s.setrole), $1::text, split_part(c, '=', 1)) END || CASE WHEN lower(split_part(c, '=', 1)) IN ('search_path', 'temp_tablespaces', 'local_preload_libraries', 'session_preload_libraries', 'shared_preload_libraries') THEN substr(c, strpos(c, '=') + 1) ELSE quote_literal(substr(c, strpos(c, '=') + 1)) END FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c WHERE d.datname = $2 ORDER BY s.setrole = 0 DESC",
            &[&new, &live],
        )
        .await
        .map_err(sql_error("cannot read the live database's settings"))?
    {
        statements.push(row.get(0));
    }
    for row in client
        .query(
            "SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', $1::text) FROM pg_database WHERE datname = $2 AND datacl IS NOT NULL UNION ALL SELECT format('GRANT %s ON DATABASE %I TO %s%s', a.privilege_type, $1::text, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $2 AND a.grantee <> d.datdba UNION ALL SELECT format('ALTER DATABASE %I CONNECTION LIMIT %s', $1::text, datconnlimit) FROM pg_database WHERE datname = $2 AND datconnlimit <> -1 UNION ALL SELECT format('COMMENT ON DATABASE %I IS %L', $1::text, shobj_description(oid, 'pg_database')) FROM pg_database WHERE datname = $2 AND shobj_description(oid, 'pg_database') IS NOT NULL",
            &[&new, &live],
        )
        .await
        .map_err(sql_error("cannot read the live database's grants"))?
    {
        statements.push(row.get(0));
    }
    let mut not_copied = vec![];
    for s in statements {
        if let Err(e) = client.batch_execute(&s).await {
            if s.starts_with("ALTER ROLE") {
                not_copied.push(format!("{s}: {}", target::describe(&e)));
            } else {
                let why = target::describe(&e);
                let _ = drop_database(client, new).await;
                return Err(format!("cannot copy `{s}` to {new}: {why}"));
            }
        }
    }
    Ok(not_copied)
}

/// Creates an empty database `name` from template0, owned by the connecting role.
pub async fn create_empty(client: &Client, name: &str) -> Result<(), String> {
    client
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE template0",
            quote_ident(name)
        ))
        .await
        .map_err(sql_error(&format!("cannot create the database {name}")))
}

/// The size of database `name` on disk, in bytes.
pub async fn size(client: &Client, name: &str) -> Result<i64, String> {
    client
        .query_one("SELECT pg_database_size($1::text::name)", &[&name])
        .await
        .map(|r| r.get(0))
        .map_err(sql_error(&format!("cannot read the size of {name}")))
}

/// Drops `name` (and any session still in it).
pub async fn drop_database(client: &Client, name: &str) -> Result<(), String> {
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
        .await
        .map_err(sql_error(&format!("cannot drop the database {name}")))
}

/// Ends the sessions of `name` and waits until they are gone. Sessions are those with a
/// user: autovacuum has none (and a rename stops it by itself); `backend_type` is not
/// used because a role without pg_read_all_stats sees it NULL for other roles' sessions.
async fn end_sessions(client: &Client, name: &str) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let left: i64 = client
            .query_one(
                "SELECT count(*) FILTER (WHERE NOT pg_terminate_backend(pid)) + count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND usename IS NOT NULL",
                &[&name],
            )
            .await
            .map_err(sql_error(&format!("cannot end the sessions on {name}")))?
            .get(0);
        if left == 0 {
            return Ok(());
        }
        if started.elapsed() > END_SESSIONS_WITHIN {
            return Err(format!(
                "sessions on {name} did not end within {} s",
                END_SESSIONS_WITHIN.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Allows or refuses every new connection to `name` (`ALLOW_CONNECTIONS`).
pub async fn allow_connections(client: &Client, name: &str, allow: bool) -> Result<(), String> {
    client
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {allow}",
            quote_ident(name)
        ))
        .await
        .map_err(sql_error(&format!(
            "cannot {} connections to {name}",
            if allow { "allow" } else { "stop" }
        )))
}

/// Renames database `from` to `to`.
pub async fn rename(client: &Client, from: &str, to: &str) -> Result<(), String> {
    client
        .batch_execute(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(from),
            quote_ident(to)
        ))
        .await
        .map_err(sql_error(&format!("cannot rename {from} to {to}")))
}

/// Swaps `incoming` in under the name `live`; the database that was `live` is kept as
/// `aside`, with connections refused (nobody can write to it any more). Returns how long
/// `live` refused connections, in ms. On failure `live` is what it was and accepts
/// connections again.
pub async fn swap(client: &Client, live: &str, incoming: &str, aside: &str) -> Result<i64, String> {
    let t = Instant::now();
    allow_connections(client, live, false).await?;
    let swapped = async {
        end_sessions(client, incoming).await?;
        end_sessions(client, live).await?;
        rename(client, live, aside).await?;
        if let Err(e) = rename(client, incoming, live).await {
            return Err(match rename(client, aside, live).await {
                Ok(()) => e,
                Err(back) => format!("{e}; then {back}: the live database is now named {aside}"),
            });
        }
        Ok(())
    }
    .await;
    let allowed = allow_connections(client, live, true).await;
    let offline_ms = t.elapsed().as_millis() as i64;
    swapped?;
    allowed?;
    Ok(offline_ms)
}

/// The rights taken away by [`keep_out`], to give back with [`let_in`].
#[derive(Debug, Default)]
pub struct Gate {
    /// `GRANT CONNECT ON DATABASE …` statements.
    pub grants: Vec<String>,
}

/// Keeps the application out of `live` for an in-place restore: `CONNECT` is revoked
/// from PUBLIC and every role granted it (not from the owner, nor from the role Lifeboat
/// connects with, which its own pg_dump/pg_restore use), then the other sessions are
/// ended. A superuser, or a session of the owner's or Lifeboat's own role, is not kept
/// out: that needs the application to connect with a role of its own.
pub async fn keep_out(live: &TargetUrl) -> Result<Gate, String> {
    let client = target::connect(live).await?;
    let allowed: bool = client
        .query_one(
            "SELECT r.rolsuper OR pg_has_role(current_user, d.datdba, 'MEMBER') FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()",
            &[],
        )
        .await
        .map_err(sql_error("cannot read the role's rights"))?
        .get(0);
    if !allowed {
        return Err(format!(
            "the role Lifeboat connects with does not own {}, so it cannot keep the application out while the restore runs",
            live.database()
        ));
    }
    let rows = client
        .query(
            "SELECT format('GRANT CONNECT ON DATABASE %I TO %s%s', d.datname, g.who, CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), format('REVOKE CONNECT ON DATABASE %I FROM %s', d.datname, g.who) FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a, LATERAL (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who) g WHERE d.datname = current_database() AND a.privilege_type = 'CONNECT' AND a.grantee <> d.datdba AND a.grantee <> (SELECT oid FROM pg_roles WHERE rolname = current_user)",
            &[],
        )
        .await
        .map_err(sql_error("cannot read who may connect"))?;
    let mut gate = Gate::default();
    for row in rows {
        let revoke: String = row.get(1);
        if let Err(e) = client.batch_execute(&revoke).await {
            let why = target::describe(&e);
            let _ = give_back(&client, &gate).await;
            return Err(format!("cannot keep the application out ({revoke}): {why}"));
        }
        gate.grants.push(row.get(0));
    }
    let ended = client
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND usename IS NOT NULL",
            &[],
        )
        .await;
    if let Err(e) = ended {
        let why = target::describe(&e);
        let _ = give_back(&client, &gate).await;
        return Err(format!("cannot end the other sessions: {why}"));
    }
    Ok(gate)
}

async fn give_back(client: &Client, gate: &Gate) -> Result<(), String> {
    for g in &gate.grants {
        client.batch_execute(g).await.map_err(sql_error(&format!(
            "cannot give back the right to connect ({g})"
        )))?;
    }
    Ok(())
}

/// Gives back what [`keep_out`] took.
pub async fn let_in(live: &TargetUrl, gate: &Gate) -> Result<(), String> {
    let client = target::connect(live).await?;
    give_back(&client, gate).await
}

/// What [`prove`] answers when it was cancelled.
pub const PROOF_CANCELLED: &str = "cancelled";

/// `ANALYZE`s `database` and counts every table's rows, for comparison with the archive's
/// counts. Both read the tables the restore has just written (still in the server's
/// cache), so they run at the same time: one session runs `ANALYZE`, `sessions - 1` others
/// share the counts, largest table first. Both read whole tables, which on a big database
/// legitimately takes longer than the statement timeout: their sessions have none, and
/// when `cancel` turns `true` their statements are cancelled on the server (the answer is
/// then [`PROOF_CANCELLED`]).
pub async fn prove(
    database: &TargetUrl,
    expected: &RowCounts,
    sessions: u32,
    cancel: &tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<TableProof>, String> {
    let analyze = async {
        let client = target::connect(database).await?;
        let work = client.batch_execute("SET statement_timeout = 0; ANALYZE");
        target::unless_cancelled(database, &client, &mut cancel.clone(), work)
            .await
            .ok_or(PROOF_CANCELLED)?
            .map_err(sql_error("ANALYZE failed"))
    };
    let mut largest_first: Vec<(usize, &TableName, i64)> = expected
        .iter()
        .enumerate()
        .map(|(i, (table, rows))| (i, table, *rows))
        .collect();
    largest_first.sort_by_key(|&(_, _, rows)| std::cmp::Reverse(rows));
    let queue = std::sync::Mutex::new(largest_first.into_iter());
    let counters = (sessions.max(2) as usize - 1).clamp(1, expected.len().max(1));
    let count = |_| async {
        let client = target::connect(database).await?;
        let mut cancel = cancel.clone();
        client
            .batch_execute("SET statement_timeout = 0")
            .await
            .map_err(sql_error("cannot lift the statement timeout"))?;
        let mut counted = vec![];
        loop {
            let next = queue.lock().map_err(|_| "the count was cut short")?.next();
            let Some((i, table, rows)) = next else {
                return Ok::<_, String>(counted);
            };
            let work = count_rows(&client, table, rows);
            let proof = target::unless_cancelled(database, &client, &mut cancel, work)
                .await
                .ok_or(PROOF_CANCELLED)??;
            counted.push((i, proof));
        }
    };
    let (analyzed, counted) = tokio::join!(
        analyze,
        futures::future::try_join_all((0..counters).map(count))
    );
    analyzed?;
    let mut proof: Vec<(usize, TableProof)> = counted?.into_iter().flatten().collect();
    proof.sort_by_key(|&(i, _)| i);
    Ok(proof.into_iter().map(|(_, p)| p).collect())
}

/// One table's rows in the restored database (`None` when the table is missing).
async fn count_rows(client: &Client, table: &TableName, rows: i64) -> Result<TableProof, String> {
    let found = match client
        .query_one(
            &format!("SELECT count(*) FROM ONLY {}", table.quoted()),
            &[],
        )
        .await
    {
        Ok(r) => Some(r.get::<_, i64>(0)),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => None,
        Err(e) => {
            return Err(format!(
                "cannot count the rows of {}: {}",
                table.display(),
                target::describe(&e)
            ))
        }
    };
    Ok(TableProof {
        table: table.display(),
        archive_rows: rows,
        restored_rows: found,
    })
}

/// The tables whose counts differ, in words; `None` when every count matches.
pub fn differences(proof: &[TableProof]) -> Option<String> {
    let diffs: Vec<String> = proof
        .iter()
        .filter(|p| p.restored_rows != Some(p.archive_rows))
        .map(|p| match p.restored_rows {
            None => format!("{} is missing", p.table),
            Some(n) => format!("{} has {n} rows, the archive {}", p.table, p.archive_rows),
        })
        .collect();
    (!diffs.is_empty()).then(|| {
        let more = diffs.len().saturating_sub(5);
        let mut s = diffs.into_iter().take(5).collect::<Vec<_>>().join("; ");
        if more > 0 {
            s.push_str(&format!("; and {more} more"));
        }
        s
    })
}

/// A database kept aside on the server.
pub struct KeptDatabase {
    pub name: String,
    pub size_bytes: i64,
    pub kind: Kept,
    pub at: DateTime<Utc>,
}

/// The databases kept aside for `database`.
pub async fn kept(client: &Client, database: &str) -> Result<Vec<KeptDatabase>, String> {
    let rows = client
        .query(
            "SELECT datname, CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) ELSE 0 END FROM pg_database WHERE strpos(datname, '__lifeboat_') > 0 ORDER BY datname",
            &[],
        )
        .await
        .map_err(sql_error("cannot list the kept databases"))?;
    let mut out = vec![];
    for row in rows {
        let name: String = row.get(0);
        let Some((kind, at)) = parse_kept(&name) else {
            continue;
        };
        if kept_name(database, kind, at) != name {
            continue;
        }
        out.push(KeptDatabase {
            size_bytes: row.get(1),
            name,
            kind,
            at,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn kept_names_fit_and_read_back() {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 1, 3, 4, 5)
            .single()
            .expect("time");
        let n = kept_name("shop", Kept::Before, at);
        assert_eq!(n, "shop__lifeboat_before_20261201T030405Z");
        assert_eq!(parse_kept(&n), Some((Kept::Before, at)));
        let long = "é".repeat(40);
        let n = kept_name(&long, Kept::RolledBack, at);
        assert!(n.len() <= MAX_NAME, "{n}");
        assert_eq!(parse_kept(&n), Some((Kept::RolledBack, at)));
        assert!(restore_name(&long, 12).ends_with("__lifeboat_restore_12"));
        assert_eq!(parse_kept("shop__lifeboat_restore_12"), None);
        assert_eq!(test_name("shop", 3), "shop__lifeboat_test_3");
        assert_eq!(
            parse_kept(&test_name("shop", 3)),
            None,
            "never listed as kept"
        );
    }

    #[test]
    fn differences_name_the_tables() {
        let p = |t: &str, a: i64, r: Option<i64>| TableProof {
            table: t.into(),
            archive_rows: a,
            restored_rows: r,
        };
        assert_eq!(differences(&[p("public.a", 3, Some(3))]), None);
        assert_eq!(
            differences(&[p("public.a", 3, Some(2)), p("public.b", 1, None)]).as_deref(),
            Some("public.a has 2 rows, the archive 3; public.b is missing")
        );
    }
}
