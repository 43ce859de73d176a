//! The operator's command line, run as a separate process on a SQLite database (the CLI opens
//! PostgreSQL the same way, through the same `Store`).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn liandong(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(args)
        .env("LIANDONG_DATA_DIR", data_dir)
        .env_remove("LIANDONG_DATABASE_URL")
        .env_remove("LIANDONG_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test]
async fn operators_set_up_offices_and_users_and_verify_the_log_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let office = liandong(d, &["office", "add", "--id", "ja", "--county", "420102", "--name", "大智街司法所"], "");
    assert!(office.status.success(), "{}", text(&office));
    let bad_county = liandong(d, &["office", "add", "--id", "x", "--county", "999999", "--name", "x"], "");
    assert!(!bad_county.status.success() && text(&bad_county).contains("county"));

    let add = ["user", "add", "--username", "officer1", "--role", "office_officer", "--scope", "ja"];
    let weak = liandong(d, &add, "short\n");
    assert!(!weak.status.success() && text(&weak).contains("password"), "{}", text(&weak));
    let user = liandong(d, &add, "a long enough passphrase\n");
    assert!(user.status.success(), "{}", text(&user));
    let taken = liandong(d, &add, "a long enough passphrase\n");
    assert!(!taken.status.success() && text(&taken).contains("taken"));
    let bad_role = liandong(d, &["user", "add", "--username", "x1", "--role", "judge", "--scope", "ja"], "");
    assert!(!bad_role.status.success() && text(&bad_role).contains("judge"));
    let disable = liandong(d, &["user", "disable", "--username", "officer1"], "");
    assert!(disable.status.success(), "{}", text(&disable));

    let verified = liandong(d, &["oversight", "verify"], "");
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(text(&verified).contains("3 events"), "{}", text(&verified));

    let url = format!("sqlite://{}/liandong.db", d.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DROP TRIGGER oversight_events_no_update").execute(&pool).await.unwrap();
    sqlx::query("UPDATE oversight_events SET actor = 'someone' WHERE seq = 2").execute(&pool).await.unwrap();
    pool.close().await;
    let broken = liandong(d, &["oversight", "verify"], "");
    assert_eq!(broken.status.code(), Some(2));
    assert!(text(&broken).contains("BROKEN at event 2"), "{}", text(&broken));
}

#[test]
fn an_invalid_setting_stops_start_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(["migrate"])
        .env("LIANDONG_DATA_DIR", dir.path())
        .env("LIANDONG_POLICY__REGISTRATION_DAYS", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("policy.registration_days"), "{}", text(&out));
}

#[test]
fn operators_locate_positions_and_describe_allowed_areas() {
    let dir = tempfile::tempdir().unwrap();
    let input = "114.321,30.643\n2.35,48.85\nnot,a position\n114.3,95\n";
    let located = liandong(dir.path(), &["geofences", "locate", "--crs", "gcj02"], input);
    assert!(located.status.success(), "{}", text(&located));
    let lines: Vec<String> = String::from_utf8_lossy(&located.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines[0], "420102,江岸区");
    assert_eq!(lines[1], ",", "outside China");
    assert!(lines[2].starts_with(",#lon"), "{}", lines[2]);
    assert!(lines[3].starts_with(",#lat"), "{}", lines[3]);

    let info = liandong(dir.path(), &["geofences", "info", "420102"], "");
    let out = String::from_utf8_lossy(&info.stdout);
    assert!(out.contains("13 units") && out.contains("420106 武昌区"), "{out}");
    let bad = liandong(dir.path(), &["geofences", "locate", "--crs", "utm50"], "");
    assert!(!bad.status.success() && text(&bad).contains("utm50"));
}
