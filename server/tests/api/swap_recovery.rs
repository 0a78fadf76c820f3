//! A swap of database names cut in two by a crash: the next start reads from the server
//! how far it got and puts the live database back in service under its name.

use crate::restores::with_target;
use crate::support::*;
use crate::swap::databases_like;
use server::engine::recovery::{recover_swaps, Recovered};
use server::store::restores::{self as journal, SwapKind};

/// Whether `name` accepts connections (`datallowconn`).
async fn accepts_connections(name: &str) -> bool {
    let (client, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query_one(
            "SELECT datallowconn FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .expect("datallowconn")
        .get(0)
}

/// A Lifeboat that was swapping `incoming` in as `live` (keeping `live` as `aside`) for
/// restore 1 when it died: its journal holds the restore and the swap.
async fn crashed_engine(
    live: &str,
    incoming: &str,
    aside: &str,
) -> (server::engine::Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let url = on(live);
    let config = config_for(dir.path(), &with_target(&url));
    let engine = server::startup::open_engine(&config, config.target_url.clone())
        .await
        .expect("engine");
    sqlx::query(
        "INSERT INTO restores (id, database, source, file_name, status, started_at, strategy, new_database) VALUES (1, ?, 'backup', 'x.dump', 'running', '2026-12-01T00:00:00Z', 'swap', ?)",
    )
    .bind(live)
    .bind(incoming)
    .execute(engine.db())
    .await
    .expect("restore row");
    journal::swap_begins(engine.db(), 1, SwapKind::Restore, live, incoming, aside)
        .await
        .expect("swap row");
    (engine, dir)
}

fn on(name: &str) -> String {
    let mut u = url::Url::parse(&pg_url()).expect("url");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// Runs the start-up recovery; returns what it did with the one swap.
async fn recover(engine: &server::engine::Engine) -> Recovered {
    let target = engine.target().expect("target").clone();
    let mut done = recover_swaps(engine, &target, |_: &str| true)
        .await
        .expect("recover");
    assert_eq!(done.len(), 1);
    assert!(journal::unfinished_swaps(engine.db())
        .await
        .expect("swaps")
        .is_empty());
    done.remove(0).1
}

#[tokio::test]
async fn a_swap_cut_in_two_by_a_crash_puts_the_live_database_back_at_the_next_start() {
    let pg = pg_url();
    // 1. Crashed after the live database was set aside, before the new one took its name:
    //    the application had no database. It is named back, untouched, and let in.
    let live = "lb_swc_a";
    let aside = "lb_swc_a__lifeboat_before_20261201T000001Z";
    let incoming = "lb_swc_a__lifeboat_restore_1";
    sql(
        &pg,
        &format!("DROP DATABASE IF EXISTS \"{aside}\" WITH (FORCE)"),
    )
    .await;
    let url = sample_database(live, 500).await;
    sql(&url, "UPDATE marker SET v = 'the live contents'").await;
    let before = table_checksums(&url).await;
    sample_database(incoming, 10).await;
    sql(
        &pg,
        &format!("ALTER DATABASE {live} ALLOW_CONNECTIONS false"),
    )
    .await;
    sql(&pg, &format!("ALTER DATABASE {live} RENAME TO \"{aside}\"")).await;
    let (engine, _dir) = crashed_engine(live, incoming, aside).await;
    assert_eq!(recover(&engine).await, Recovered::Undone);
    assert!(accepts_connections(live).await);
    assert_eq!(table_checksums(&url).await, before);
    assert!(databases_like("lb_swc_a__lifeboat_before_%")
        .await
        .is_empty());

    // 2. Crashed after connections were stopped, before any rename: let in again.
    let live = "lb_swc_b";
    let url = sample_database(live, 500).await;
    let before = table_checksums(&url).await;
    sql(
        &pg,
        &format!("ALTER DATABASE {live} ALLOW_CONNECTIONS false"),
    )
    .await;
    let (engine, _dir) = crashed_engine(
        live,
        "lb_swc_b__lifeboat_restore_1",
        "lb_swc_b__lifeboat_before_20261201T000002Z",
    )
    .await;
    assert_eq!(recover(&engine).await, Recovered::NotStarted);
    assert!(accepts_connections(live).await);
    assert_eq!(table_checksums(&url).await, before);

    // 3. Crashed after both renames: the restored database is live and reachable, the
    //    earlier one kept aside and recorded on the restore, so it can be rolled back.
    let live = "lb_swc_c";
    let aside = "lb_swc_c__lifeboat_before_20261201T000003Z";
    let incoming = "lb_swc_c__lifeboat_restore_1";
    sql(
        &pg,
        &format!("DROP DATABASE IF EXISTS \"{aside}\" WITH (FORCE)"),
    )
    .await;
    let old = sample_database(live, 500).await;
    let old_sums = table_checksums(&old).await;
    let new = sample_database(incoming, 50).await;
    let new_sums = table_checksums(&new).await;
    sql(
        &pg,
        &format!("ALTER DATABASE {live} ALLOW_CONNECTIONS false"),
    )
    .await;
    sql(&pg, &format!("ALTER DATABASE {live} RENAME TO \"{aside}\"")).await;
    sql(&pg, &format!("ALTER DATABASE {incoming} RENAME TO {live}")).await;
    let (engine, _dir) = crashed_engine(live, incoming, aside).await;
    assert_eq!(recover(&engine).await, Recovered::Completed);
    assert!(accepts_connections(live).await);
    assert_eq!(
        table_checksums(&old).await,
        new_sums,
        "the restored contents are live"
    );
    let r = journal::get(engine.db(), 1)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(r.kept_database.as_deref(), Some(aside));
    sql(
        &pg,
        &format!("ALTER DATABASE \"{aside}\" ALLOW_CONNECTIONS true"),
    )
    .await;
    assert_eq!(table_checksums(&on(aside)).await, old_sums);
    sql(&pg, &format!("DROP DATABASE \"{aside}\" WITH (FORCE)")).await;
}
