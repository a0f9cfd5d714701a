//! Unit tests of parsing and validation: one test per rule, checking the
//! key path and the hint in the message.

use super::*;

const SPEC_EXAMPLE: &str = r#"
[server]
listen = ["127.0.0.1:3260"]            # portals
metrics_listen = "127.0.0.1:9260"      # Prometheus text at /metrics; omit to disable

[[targets]]
iqn = "iqn.2026-11.com.example:store1"
allowed_initiators = []                # optional; empty or absent = any initiator
chap = { user = "alice", secret = "secret-of-12-or-more" }          # optional
mutual_chap = { user = "store1", secret = "another-secret-12" }     # optional

[[targets.luns]]
lun = 0
backend = "file"                       # "file" or "memory"
path = "lun0.img"                      # relative to the config file's folder
size = "1GiB"                          # file: created sparse if missing
block_size = 512
read_only = false
"#;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn load_t(toml: &str) -> Result<Config, ConfigError> {
    load_str("test.toml", toml, Path::new("/etc/xtgt"), no_env())
}

fn err_of(toml: &str) -> ConfigError {
    match load_t(toml) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e,
    }
}

/// A minimal valid config with one memory LUN, with `extra` appended to
/// the LUN table.
fn one_lun(extra: &str) -> String {
    format!(
        "[[targets]]\niqn = \"iqn.2026-11.com.example:t\"\n[[targets.luns]]\nlun = 0\nbackend = \"memory\"\nsize = \"1MiB\"\n{extra}\n"
    )
}

#[test]
fn spec_schema_is_accepted() {
    let c = load_t(SPEC_EXAMPLE).unwrap();
    // Both example secrets are longer than 16 bytes: accepted, with warnings.
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(
        c.warnings[0].starts_with("targets[0].chap.secret is 20 bytes"),
        "{:?}",
        c.warnings
    );
    assert_eq!(c.server.listen, vec!["127.0.0.1:3260".parse().unwrap()]);
    assert_eq!(
        c.server.metrics_listen,
        Some("127.0.0.1:9260".parse().unwrap())
    );
    assert_eq!(c.targets.len(), 1);
    let t = &c.targets[0];
    assert_eq!(t.iqn, "iqn.2026-11.com.example:store1");
    assert!(t.allowed_initiators.is_empty());
    assert_eq!(
        t.chap,
        Some(ChapCredential {
            user: "alice".into(),
            secret: "secret-of-12-or-more".into()
        })
    );
    assert_eq!(t.mutual_chap.as_ref().unwrap().user, "store1");
    assert_eq!(
        t.luns,
        vec![Lun {
            lun: 0,
            backend: BackendKind::File {
                path: PathBuf::from("/etc/xtgt/lun0.img"),
                size: Some(1 << 30)
            },
            block_size: 512,
            read_only: false,
            physical_block_size: 4096,
            removable: false,
        }]
    );
    assert_eq!(c.log, "info");
}

#[test]
fn builtin_default_is_valid() {
    let c = load(None, no_env()).unwrap();
    assert_eq!(c.source, BUILTIN_SOURCE);
    assert_eq!(c.server.listen, vec!["127.0.0.1:3260".parse().unwrap()]);
    assert_eq!(
        c.server.metrics_listen,
        Some("127.0.0.1:9260".parse().unwrap())
    );
    assert_eq!(c.targets[0].iqn, "iqn.2026-11.org.xtgt:default");
    assert_eq!(c.targets[0].luns.len(), 2);
    assert_eq!(
        c.targets[0].luns[1].backend,
        BackendKind::File {
            path: PathBuf::from("./xtgt-data/lun1.img"),
            size: Some(1 << 30)
        }
    );
}

#[test]
fn env_overrides_server_keys() {
    let env = vec![
        (
            "XTGT_SERVER__LISTEN".to_string(),
            "127.0.0.1:3999,[::1]:3999".to_string(),
        ),
        ("XTGT_SERVER__METRICS_LISTEN".to_string(), "".to_string()),
        ("XTGT_SERVER__QUEUE_DEPTH".to_string(), "32".to_string()),
        ("XTGT_LOG".to_string(), "debug".to_string()),
        // Not ours: ignored rather than rejected as an unknown key.
        ("XTGT_BIN".to_string(), "/usr/bin/xtgt".to_string()),
        ("PATH".to_string(), "/bin".to_string()),
    ];
    let c = load(None, env).unwrap();
    assert_eq!(
        c.server.listen,
        vec![
            "127.0.0.1:3999".parse().unwrap(),
            "[::1]:3999".parse().unwrap()
        ]
    );
    assert_eq!(c.server.metrics_listen, None);
    assert_eq!(c.server.queue_depth, 32);
    assert_eq!(c.log, "debug");
}

#[test]
fn env_bad_value_names_the_key() {
    let env = vec![("XTGT_SERVER__LISTEN".to_string(), "localhost".to_string())];
    let e = load(None, env).unwrap_err();
    assert_eq!(e.key, "server.listen[0]");
    assert!(e.message.contains("[::1]:3260"), "{e}");
}

#[test]
fn ipv6_and_single_string_listen() {
    let toml = format!("[server]\nlisten = \"[::1]:3260\"\n{}", one_lun(""));
    let c = load_t(&toml).unwrap();
    assert_eq!(c.server.listen, vec!["[::1]:3260".parse().unwrap()]);
    assert_eq!(c.server.metrics_listen, None);
}

#[test]
fn bad_listen() {
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:3260\", \"::1:3260\"]\n{}",
        one_lun("")
    );
    let e = err_of(&toml);
    assert_eq!(e.key, "server.listen[1]");
    assert_eq!(e.source, "test.toml");
    let toml = format!("[server]\nlisten = []\n{}", one_lun(""));
    assert_eq!(err_of(&toml).key, "server.listen");
    let toml = format!(
        "[server]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n{}",
        one_lun("")
    );
    assert_eq!(err_of(&toml).key, "server.listen[1]");
    let toml = format!("[server]\nmetrics_listen = \"9260\"\n{}", one_lun(""));
    assert_eq!(err_of(&toml).key, "server.metrics_listen");
    let toml = format!("[server]\nlisten = 3260\n{}", one_lun(""));
    let e = err_of(&toml);
    assert_eq!(e.key, "server.listen");
    assert_eq!(
        e.message,
        "expected an address such as \"127.0.0.1:3260\" or a list of them"
    );
}

#[test]
fn bad_block_size() {
    let e = err_of(&one_lun("block_size = 1000"));
    assert_eq!(e.key, "targets[0].luns[0].block_size");
    assert!(e.message.contains("512 or 4096"), "{e}");
    assert_eq!(
        e.to_string(),
        "test.toml: targets[0].luns[0].block_size: 1000 is not supported; expected 512 or 4096"
    );
}

#[test]
fn physical_block_size_and_removable() {
    let lun = |extra: &str| load_t(&one_lun(extra)).unwrap().targets[0].luns[0].clone();
    let l = lun("");
    assert_eq!((l.physical_block_size, l.removable), (4096, false));
    let l = lun("block_size = 4096");
    assert_eq!(l.physical_block_size, 4096);
    let l = lun("block_size = 4096\nphysical_block_size = 16384\nremovable = true");
    assert_eq!((l.physical_block_size, l.removable), (16384, true));
    let l = lun("physical_block_size = 512");
    assert_eq!(l.physical_block_size, 512);
    for bad in ["1000", "2048\nblock_size = 4096", "6144", "131072", "0"] {
        let e = err_of(&one_lun(&format!("physical_block_size = {bad}")));
        assert_eq!(e.key, "targets[0].luns[0].physical_block_size", "{bad}");
    }
    let e = err_of(&one_lun("physical_block_size = 6144"));
    assert_eq!(
        e.to_string(),
        "test.toml: targets[0].luns[0].physical_block_size: 6144 is not supported; \
         expected a power of two multiple of block_size 512 up to 65536, e.g. 4096"
    );
    let e = err_of(&one_lun("removable = [1]"));
    assert_eq!(e.key, "targets[0].luns[0].removable");
}

#[test]
fn block_size_of_wrong_type_names_the_key() {
    let e = err_of(&one_lun("block_size = \"big\""));
    assert_eq!(e.key, "targets[0].luns[0].block_size");
}

#[test]
fn missing_iqn() {
    let e = err_of("[[targets]]\n[[targets.luns]]\nlun = 0\nbackend = \"memory\"\nsize = 4096\n");
    assert_eq!(e.key, "targets[0].iqn");
    assert!(e.message.contains("iqn.2026-11.com.example"), "{e}");
}

#[test]
fn bad_iqn() {
    let e = err_of("[[targets]]\niqn = \"store1\"\n[[targets.luns]]\nlun = 0\nbackend = \"memory\"\nsize = 4096\n");
    assert_eq!(e.key, "targets[0].iqn");
    assert!(
        e.message.contains("RFC") || e.message.contains("iqn."),
        "{e}"
    );
}

#[test]
fn bad_size_unit() {
    let e = err_of(&one_lun("").replace("\"1MiB\"", "\"1 GiGa\""));
    assert_eq!(e.key, "targets[0].luns[0].size");
    assert!(e.message.contains("GiB"), "{e}");
}

#[test]
fn size_must_be_block_multiple() {
    let e = err_of(&one_lun("block_size = 4096").replace("\"1MiB\"", "6144"));
    assert_eq!(e.key, "targets[0].luns[0].size");
    assert!(e.message.contains("8KiB"), "{e}");
    let e = err_of(&one_lun("").replace("\"1MiB\"", "0"));
    assert_eq!(e.key, "targets[0].luns[0].size");
    let e = err_of(&one_lun("").replace("\"1MiB\"", "-512"));
    assert_eq!(e.key, "targets[0].luns[0].size");
    assert_eq!(
        e.message,
        "expected a size in bytes (not negative) or a string such as \"1GiB\""
    );
}

#[test]
fn duplicate_lun() {
    let toml = format!(
        "{}[[targets.luns]]\nlun = 0\nbackend = \"memory\"\nsize = 4096\n",
        one_lun("")
    );
    let e = err_of(&toml);
    assert_eq!(e.key, "targets[0].luns[1].lun");
    assert!(e.message.contains("unique"), "{e}");
}

#[test]
fn lun_range() {
    assert!(load_t(&one_lun("").replace("lun = 0", "lun = 16383")).is_ok());
    let e = err_of(&one_lun("").replace("lun = 0", "lun = 16384"));
    assert_eq!(e.key, "targets[0].luns[0].lun");
    assert!(e.message.contains("0..=16383"), "{e}");
}

#[test]
fn duplicate_iqn() {
    let toml = format!("{}{}", one_lun(""), one_lun(""));
    let e = err_of(&toml);
    assert_eq!(e.key, "targets[1].iqn");
}

#[test]
fn chap_rules() {
    let base = one_lun("");
    let with =
        |chap: &str| base.replacen("[[targets.luns]]", &format!("{chap}\n[[targets.luns]]"), 1);
    assert!(load_t(&with("chap = { user = \"u\", secret = \"123456789012\" }")).is_ok());
    assert!(load_t(&with(
        "chap = { user = \"u\", secret = \"1234567890123456\" }"
    ))
    .is_ok());
    let e = err_of(&with("chap = { user = \"u\", secret = \"12345678901\" }"));
    assert_eq!(e.key, "targets[0].chap.secret");
    let c = load_t(&with(
        "chap = { user = \"u\", secret = \"12345678901234567\" }",
    ))
    .unwrap();
    assert_eq!(c.warnings.len(), 1);
    let long = "x".repeat(256);
    let e = err_of(&with(&format!(
        "chap = {{ user = \"u\", secret = \"{long}\" }}"
    )));
    assert_eq!(e.key, "targets[0].chap.secret");
    let e = err_of(&with("chap = { secret = \"123456789012\" }"));
    assert_eq!(e.key, "targets[0].chap.user");
    // CHAP_N is a text value: at most 255 bytes.
    let name = |n: usize| {
        format!(
            "chap = {{ user = \"{}\", secret = \"123456789012\" }}",
            "u".repeat(n)
        )
    };
    assert!(load_t(&with(&name(255))).is_ok());
    assert_eq!(err_of(&with(&name(256))).key, "targets[0].chap.user");
    let e = err_of(&with(
        "mutual_chap = { user = \"t\", secret = \"123456789012\" }",
    ));
    assert_eq!(e.key, "targets[0].mutual_chap");
    assert!(e.message.contains("chap"), "{e}");
    let e = err_of(&with(
        "chap = { user = \"u\", secret = \"123456789012\" }\nmutual_chap = { user = \"t\", secret = \"123456789012\" }",
    ));
    assert_eq!(e.key, "targets[0].mutual_chap.secret");
}

#[test]
fn allowed_initiators_are_names() {
    let base = one_lun("");
    let with = |v: &str| {
        base.replacen(
            "[[targets.luns]]",
            &format!("allowed_initiators = {v}\n[[targets.luns]]"),
            1,
        )
    };
    let c = load_t(&with("[\"iqn.1993-08.org.debian:01:abc\"]")).unwrap();
    assert_eq!(
        c.targets[0].allowed_initiators,
        vec!["iqn.1993-08.org.debian:01:abc"]
    );
    let e = err_of(&with("[\"iqn.1993-08.org.debian:01:abc\", \"bob\"]"));
    assert_eq!(e.key, "targets[0].allowed_initiators[1]");
}

#[test]
fn backends() {
    let e = err_of(&one_lun("").replace("\"memory\"", "\"disk\""));
    assert_eq!(e.key, "targets[0].luns[0].backend");
    assert!(e.message.contains("\"file\" or \"memory\""), "{e}");
    let e = err_of(&one_lun("").replace("size = \"1MiB\"", ""));
    assert_eq!(e.key, "targets[0].luns[0].size");
    let e = err_of(&one_lun("").replace("\"memory\"", "\"file\""));
    assert_eq!(e.key, "targets[0].luns[0].path");
    let c = load_t(&one_lun("path = \"/abs/x.img\"").replace("\"memory\"", "\"file\"")).unwrap();
    assert_eq!(
        c.targets[0].luns[0].backend,
        BackendKind::File {
            path: "/abs/x.img".into(),
            size: Some(1 << 20)
        }
    );
    // File without size: the file must exist (checked at start).
    let c = load_t(
        &one_lun("path = \"d/x.img\"")
            .replace("\"memory\"", "\"file\"")
            .replace("size = \"1MiB\"", ""),
    )
    .unwrap();
    assert_eq!(
        c.targets[0].luns[0].backend,
        BackendKind::File {
            path: "/etc/xtgt/d/x.img".into(),
            size: None
        }
    );
}

#[test]
fn same_file_twice() {
    let lun = "[[targets.luns]]\nlun = LUN\nbackend = \"file\"\npath = \"a.img\"\nsize = 4096\n";
    let toml = format!(
        "[[targets]]\niqn = \"iqn.2026-11.com.example:t\"\n{}{}",
        lun.replace("LUN", "0"),
        lun.replace("LUN", "1")
    );
    assert_eq!(err_of(&toml).key, "targets[0].luns[1].path");
}

#[test]
fn unknown_keys_are_rejected() {
    let e = err_of(&one_lun("blocksize = 512"));
    assert!(
        e.key.starts_with("targets[0].luns[0]") || e.message.contains("blocksize"),
        "{e}"
    );
    assert!(e.message.contains("blocksize"), "{e}");
}

#[test]
fn no_targets() {
    assert_eq!(err_of("[server]\n").key, "targets");
    assert_eq!(
        err_of("[[targets]]\niqn = \"iqn.2026-11.com.example:t\"\n").key,
        "targets[0].luns"
    );
}

#[test]
fn not_toml() {
    let e = err_of("[server\nlisten=");
    assert!(e.message.contains("TOML"), "{e}");
}

#[test]
fn missing_file() {
    let e = load(Some(Path::new("/nonexistent/xtgt.toml")), no_env()).unwrap_err();
    assert_eq!(e.source, "/nonexistent/xtgt.toml");
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn relative_to_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.toml");
    std::fs::write(
        &p,
        one_lun("path = \"l.img\"").replace("\"memory\"", "\"file\""),
    )
    .unwrap();
    let c = load(Some(&p), no_env()).unwrap();
    assert_eq!(
        c.targets[0].luns[0].backend,
        BackendKind::File {
            path: dir.path().join("l.img"),
            size: Some(1 << 20)
        }
    );
}

#[test]
fn server_ranges() {
    for (k, v) in [
        ("queue_depth", "0"),
        ("nop_interval_secs", "0"),
        ("nop_timeout_secs", "100000"),
        ("max_recv_data_segment_length", "100"),
        ("max_recv_data_segment_length", "16777216"),
        ("portal_group_tag", "0"),
    ] {
        let toml = format!("[server]\n{k} = {v}\n{}", one_lun(""));
        assert_eq!(err_of(&toml).key, format!("server.{k}"));
    }
}

#[test]
fn arbitrary_input_never_panics() {
    let src = SPEC_EXAMPLE;
    for i in (0..src.len()).step_by(7) {
        let _ = load_t(&src[..i]);
    }
}

#[test]
fn odx_defaults_without_a_section() {
    let c = load_t(&one_lun("")).unwrap();
    assert_eq!(c.odx, OdxSettings::default());
    assert_eq!(c.odx.max_live_tokens, 262_144);
    assert_eq!(c.odx.max_tokens_per_initiator, 131_072);
    assert_eq!(c.odx.max_bytes_represented, 1 << 48);
    assert_eq!(c.odx.default_inactivity_timeout_secs, 60);
    assert_eq!(c.odx.max_inactivity_timeout_secs, 600);
    assert_eq!(
        c.odx.write_using_token_budget,
        std::time::Duration::from_millis(1000)
    );
    assert!(!c.odx.allow_any_token_holder);
    assert_eq!(c.odx.result_retention, std::time::Duration::from_secs(300));
    assert_eq!(load(None, no_env()).unwrap().odx, OdxSettings::default());
}

#[test]
fn odx_section_sets_every_key() {
    let toml = format!(
        "[odx]\nmax_live_tokens = 1000\nmax_tokens_per_initiator = 10\nmax_bytes_represented = \"1TiB\"\n\
         default_inactivity_timeout_secs = 5\nmax_inactivity_timeout_secs = 30\n\
         write_using_token_budget_ms = 20\nallow_any_token_holder = true\nresult_retention_secs = 7\n{}",
        one_lun("")
    );
    let c = load_t(&toml).unwrap();
    assert_eq!(
        c.odx,
        OdxSettings {
            max_live_tokens: 1000,
            max_tokens_per_initiator: 10,
            max_bytes_represented: 1 << 40,
            default_inactivity_timeout_secs: 5,
            max_inactivity_timeout_secs: 30,
            write_using_token_budget: std::time::Duration::from_millis(20),
            allow_any_token_holder: true,
            result_retention: std::time::Duration::from_secs(7),
        }
    );
    // A byte count works as well as a size string.
    let toml = format!("[odx]\nmax_bytes_represented = 1048576\n{}", one_lun(""));
    assert_eq!(load_t(&toml).unwrap().odx.max_bytes_represented, 1 << 20);
}

#[test]
fn odx_small_limits_pull_the_dependent_defaults_down() {
    // A store of 100 tokens: the per-initiator default (131072) would be
    // out of range, so it follows max_live_tokens; same for the timeouts.
    let toml = format!(
        "[odx]\nmax_live_tokens = 100\nmax_inactivity_timeout_secs = 10\n{}",
        one_lun("")
    );
    let c = load_t(&toml).unwrap();
    assert_eq!(c.odx.max_tokens_per_initiator, 100);
    assert_eq!(c.odx.default_inactivity_timeout_secs, 10);
}

#[test]
fn odx_bad_values_name_the_key_and_the_valid_range() {
    for (k, v, hint) in [
        ("max_live_tokens", "0", "1..=16777216"),
        ("max_live_tokens", "16777217", "1..=16777216"),
        ("max_tokens_per_initiator", "0", "1..=262144"),
        (
            "max_tokens_per_initiator",
            "262145",
            "at most odx.max_live_tokens",
        ),
        ("max_bytes_represented", "0", "positive size"),
        ("max_bytes_represented", "\"12 parsecs\"", "12 parsecs"),
        ("default_inactivity_timeout_secs", "0", "1..=600"),
        (
            "default_inactivity_timeout_secs",
            "601",
            "at most odx.max_inactivity_timeout_secs",
        ),
        ("max_inactivity_timeout_secs", "0", "1..=86400"),
        ("max_inactivity_timeout_secs", "86401", "1..=86400"),
        ("write_using_token_budget_ms", "0", "1..=3000"),
        ("write_using_token_budget_ms", "4000", "about 4 s"),
        ("result_retention_secs", "0", "1..=86400"),
    ] {
        let toml = format!("[odx]\n{k} = {v}\n{}", one_lun(""));
        let e = err_of(&toml);
        assert_eq!(e.key, format!("odx.{k}"), "{k} = {v}: {e}");
        assert!(e.message.contains(hint), "{k} = {v}: {e}");
        assert_eq!(e.source, "test.toml");
    }
    // Wrong types and unknown keys are named too.
    let e = err_of(&format!(
        "[odx]\nallow_any_token_holder = [1]\n{}",
        one_lun("")
    ));
    assert_eq!(e.key, "odx.allow_any_token_holder", "{e}");
    let e = err_of(&format!("[odx]\nmax_tokens = 5\n{}", one_lun("")));
    assert!(e.message.contains("max_tokens"), "{e}");
}

#[test]
fn env_overrides_odx_keys() {
    let env = vec![
        (
            "XTGT_ODX__WRITE_USING_TOKEN_BUDGET_MS".to_string(),
            "25".to_string(),
        ),
        (
            "XTGT_ODX__ALLOW_ANY_TOKEN_HOLDER".to_string(),
            "true".to_string(),
        ),
    ];
    let c = load(None, env).unwrap();
    assert_eq!(
        c.odx.write_using_token_budget,
        std::time::Duration::from_millis(25)
    );
    assert!(c.odx.allow_any_token_holder);
    let env = vec![("XTGT_ODX__MAX_LIVE_TOKENS".to_string(), "0".to_string())];
    assert_eq!(load(None, env).unwrap_err().key, "odx.max_live_tokens");
}

#[test]
fn copy_defaults_without_a_section() {
    let c = load_t(&one_lun("")).unwrap();
    assert_eq!(c.copy, CopySettings::default());
    assert_eq!(c.copy.foreground_share_ppm, 750_000);
    assert_eq!(c.copy.chunk_size, 1 << 20);
    assert_eq!(c.copy.chunk_size_foreground, 1 << 20);
    assert_eq!(c.copy.cpu_priority, scsi::copy::threads::CpuPriority::Idle);
    assert_eq!(c.copy.max_copies, 16);
    assert_eq!(c.copy.max_queued, 1024);
}

#[test]
fn copy_section_sets_keys_and_checks_them() {
    let toml = format!(
        "[copy]\nforeground_share = 0.5\nforeground_window_ms = 5\nchunk_size = \"2MiB\"\n\
         chunk_size_foreground = \"128KiB\"\nnative_piece = \"16MiB\"\nmax_copies = 4\n\
         max_copies_per_lu = 2\nmax_copies_per_initiator = 3\nmax_queued = 0\n\
         max_bytes_per_copy = \"4MiB\"\nmax_bytes_in_flight = \"16MiB\"\n\
         max_chunks_in_flight = 8\naging_ms = 50\nodx_priority = 3\ncpu_priority = 5\ncpus = \"1,3-4\"\n{}",
        one_lun("")
    );
    let c = load_t(&toml).unwrap().copy;
    assert_eq!(
        c,
        CopySettings {
            foreground_share_ppm: 500_000,
            foreground_window: std::time::Duration::from_millis(5),
            chunk_size: 2 << 20,
            chunk_size_foreground: 128 << 10,
            native_piece: 16 << 20,
            max_copies: 4,
            max_copies_per_lu: 2,
            max_copies_per_initiator: 3,
            max_queued: 0,
            max_bytes_per_copy: 4 << 20,
            max_bytes_in_flight: 16 << 20,
            max_chunks_in_flight: 8,
            aging: std::time::Duration::from_millis(50),
            odx_priority: 3,
            cpu_priority: scsi::copy::threads::CpuPriority::Nice(5),
            cpus: Some(vec![1, 3, 4]),
        }
    );
    for (body, key) in [
        ("foreground_share = 0.0", "copy.foreground_share"),
        ("foreground_share = 1.5", "copy.foreground_share"),
        ("chunk_size = \"1KiB\"", "copy.chunk_size"),
        (
            "chunk_size = \"1MiB\"\nchunk_size_foreground = \"2MiB\"",
            "copy.chunk_size_foreground",
        ),
        (
            "max_copies = 4\nmax_copies_per_lu = 5",
            "copy.max_copies_per_lu",
        ),
        ("max_bytes_per_copy = \"64KiB\"", "copy.max_bytes_per_copy"),
        ("odx_priority = 8", "copy.odx_priority"),
        ("max_chunks_in_flight = 0", "copy.max_chunks_in_flight"),
        ("cpu_priority = 20", "copy.cpu_priority"),
        ("cpu_priority = \"realtime\"", "copy.cpu_priority"),
        ("cpus = []", "copy.cpus"),
        ("cpus = \"2-1\"", "copy.cpus"),
        ("cpus = [1, 5000]", "copy.cpus"),
        ("cpus = \"all\"", "copy.cpus"),
    ] {
        let toml = format!("[copy]\n{body}\n{}", one_lun(""));
        let e = load_t(&toml).unwrap_err();
        assert_eq!(e.key, key, "{body}: {e}");
    }
    // Small limits pull the dependent defaults along.
    let toml = format!("[copy]\nmax_copies = 2\n{}", one_lun(""));
    let c = load_t(&toml).unwrap().copy;
    assert_eq!((c.max_copies_per_lu, c.max_copies_per_initiator), (2, 2));
    for (text, want) in [
        ("\"idle\"", scsi::copy::threads::CpuPriority::Idle),
        ("\"batch\"", scsi::copy::threads::CpuPriority::Batch),
        ("\"normal\"", scsi::copy::threads::CpuPriority::Normal),
        ("\"19\"", scsi::copy::threads::CpuPriority::Nice(19)),
        ("0", scsi::copy::threads::CpuPriority::Normal),
    ] {
        let toml = format!("[copy]\ncpu_priority = {text}\n{}", one_lun(""));
        assert_eq!(load_t(&toml).unwrap().copy.cpu_priority, want, "{text}");
    }
    for (text, want) in [
        ("1", vec![1]),
        ("[3, 2, 3]", vec![2, 3]),
        ("\"0-2\"", vec![0, 1, 2]),
    ] {
        let toml = format!("[copy]\ncpus = {text}\n{}", one_lun(""));
        assert_eq!(load_t(&toml).unwrap().copy.cpus, Some(want), "{text}");
    }
}
