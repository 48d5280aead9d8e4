//! `cargo xtask serve-bench`: trains a recall model on the synthetic world, starts
//! `fuserec-serve` on loopback, ingests a stream of new items while serving recall traffic,
//! statistics and feedback events (whose clicks train new items' id rows) for a bounded time,
//! then kills the server mid-ingest, mid-statistics and mid-events, restarts it and checks that
//! every acknowledged write is still there. Only 127.0.0.1 is ever contacted.

use anyhow::{Context, Result, bail};
use fuserec_serve::client::{get, post, post_as};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EXPERIMENT: &str = r#"# Written by `cargo xtask serve-bench`: the model the service loads.
name = "serve-bench-model"
seeds = [1]
k = [20]
bootstrap = 0
[dataset]
kind = "synthetic"
seed = 7
scale = 1.0
[[model]]
kind = "two-tower"
fusion = "additive"
"#;

struct Opts {
    items: usize,
    seconds: f64,
    crash_after: usize,
    /// Concurrent recall clients during ingestion.
    clients: usize,
    /// `--store` for the server (default: a redb file in the run's folder).
    store: Option<String>,
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Starts the server binary (write token from `dir/token`, images under `images`) and waits
/// for its "listening on" line.
fn start(bin: &Path, dir: &Path, cache: &Path, images: &Path, store: Option<&str>) -> Result<(Child, SocketAddr, f64)> {
    let t = Instant::now();
    let redb = dir.join("store/items.redb");
    let store: &std::ffi::OsStr = store.map_or(redb.as_os_str(), |s| s.as_ref());
    let mut child = Command::new(bin)
        .args(["--token-file".as_ref(), dir.join("token").as_os_str(), "--image-root".as_ref(), images.as_os_str()])
        .args(["--artifact".as_ref(), dir.join("checkpoints/model0-seed1.fuserec").as_os_str()])
        .args(["--store".as_ref(), store, "--addr".as_ref(), "127.0.0.1:0".as_ref()])
        .env("FUSEREC_CACHE_DIR", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    let addr: SocketAddr = line.trim().strip_prefix("listening on ").with_context(|| format!("server said `{}`", line.trim()))?.parse()?;
    Ok((child, addr, t.elapsed().as_secs_f64()))
}

/// A new item's body: the image as a path relative to the server's image root.
fn item_body(id: &str, title: &str, image: Option<&PathBuf>, root: &Path) -> serde_json::Value {
    match image.and_then(|p| p.strip_prefix(root).ok()) {
        Some(p) => json!({ "id": id, "title": title, "image_path": p }),
        None => json!({ "id": id, "title": title }),
    }
}

/// A fresh random write token (hex of 16 bytes from the OS's random source).
fn new_token() -> Result<String> {
    let mut b = [0u8; 16];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn retrievable(addr: SocketAddr, id: &str) -> bool {
    post(addr, "/recall", &json!({ "items": [id], "k": 10, "exclude_seen": false }))
        .is_ok_and(|r| r.status == 200 && r.json()["items"].as_array().is_some_and(|a| a.iter().any(|h| h["id"] == id)))
}

pub fn run(args: &[String], root: &Path, cache: &Path, bin: &Path) -> Result<()> {
    let num = |name: &str, default: f64| -> Result<f64> {
        match args.iter().position(|a| a == name) {
            Some(i) => {
                args.get(i + 1).with_context(|| format!("{name} needs a value"))?.parse().with_context(|| format!("{name}: not a number"))
            }
            None => Ok(default),
        }
    };
    let o = Opts {
        items: num("--items", 300.0)? as usize,
        seconds: num("--seconds", 30.0)?,
        crash_after: num("--crash-after", 50.0)? as usize,
        clients: num("--clients", 4.0)?.max(1.0) as usize,
        store: args.iter().position(|a| a == "--store").map(|i| args.get(i + 1).cloned().context("--store needs a value")).transpose()?,
    };
    let dir = root.join("results/serve-bench").join(fuserec::core::provenance::utc_now().replace(':', ""));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("model.toml"), EXPERIMENT)?;

    eprintln!("training the model the service loads (synthetic world, additive two-tower)…");
    let exp = fuserec::ExperimentConfig::load(&dir.join("model.toml"))?;
    let trained = fuserec::run(
        &exp,
        &fuserec::RunOptions { cache: cache.to_path_buf(), export_topk: None, log: false, checkpoints: Some(dir.join("checkpoints")) },
    )?;
    let ds = fuserec::experiment::load_dataset(&exp.dataset, cache)?;
    eprintln!("model: {} users, {} items", trained.dataset.users, trained.dataset.items);

    // New items: catalogue content (title + image file) under new ids, so the whole ingestion
    // path (file read, decode, encoders, content tower, gate, store, index) runs for each.
    let content: Vec<(String, Option<PathBuf>)> = ds.items_meta.iter().map(|m| (m.title.clone(), m.image.clone())).collect();
    let images: PathBuf = content.iter().find_map(|c| c.1.as_ref()?.parent().map(Path::to_path_buf)).context("the world has no images")?;
    let token = new_token()?;
    std::fs::write(dir.join("token"), &token)?;
    let (mut child, addr, boot) = start(bin, &dir, cache, &images, o.store.as_deref())?;
    eprintln!("server on {addr} (ready in {boot:.1}s); ingesting up to {} items for ≤ {:.0}s while serving recall", o.items, o.seconds);

    let stop = Arc::new(AtomicBool::new(false));
    let users: Vec<String> = (0..ds.n_users().min(2000)).map(|u| ds.users.raw(u as u32).to_string()).collect();
    let recall_lat = Arc::new(Mutex::new(Vec::<f64>::new()));
    let recall_err = Arc::new(Mutex::new(0usize));
    // `clients` recall clients, each on its own user sequence.
    let load: Vec<_> = (0..o.clients)
        .map(|c| {
            let (stop, lat, err, users) = (stop.clone(), recall_lat.clone(), recall_err.clone(), users.clone());
            std::thread::spawn(move || {
                let mut k = c * 7919;
                let mut mine = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = post(addr, "/recall", &json!({ "user": users[k % users.len()], "k": 20 })).is_ok_and(|r| r.status == 200);
                    if ok {
                        mine.push(t.elapsed().as_secs_f64());
                    } else {
                        *err.lock().expect("lock") += 1;
                    }
                    k = k.wrapping_mul(31).wrapping_add(7) % 1_000_003;
                }
                lat.lock().expect("lock").extend(mine);
            })
        })
        .collect();
    // A feedback client: statistics increments on catalogue items (their gates and vectors move).
    let stats_lat = Arc::new(Mutex::new(Vec::<f64>::new()));
    let stats_err = Arc::new(Mutex::new(0usize));
    let feedback = {
        let (stop, lat, err, token) = (stop.clone(), stats_lat.clone(), stats_err.clone(), token.clone());
        let items: Vec<String> = (0..ds.n_items().min(5000)).map(|i| ds.items.raw(i as u32).to_string()).collect();
        std::thread::spawn(move || {
            let mut k = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let body = json!({ "id": items[k % items.len()], "exposures": 3, "clicks": k.is_multiple_of(3) as u64 });
                match post_as(addr, "/stats", &body, &token) {
                    Ok(r) if r.status == 200 => lat.lock().expect("lock").push(t.elapsed().as_secs_f64()),
                    _ => *err.lock().expect("lock") += 1,
                }
                k = k.wrapping_mul(17).wrapping_add(11) % 1_000_003;
            }
        })
    };
    // A feedback-events client: batches of 8 events (a third clicked, by training users) on the
    // new items acknowledged so far and on catalogue items; clicks on new items train their rows.
    let new_ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let events_lat = Arc::new(Mutex::new(Vec::<f64>::new()));
    let events_err = Arc::new(Mutex::new(0usize));
    let events_client = {
        let (stop, lat, err, token, new_ids, users) =
            (stop.clone(), events_lat.clone(), events_err.clone(), token.clone(), new_ids.clone(), users.clone());
        let items: Vec<String> = (0..ds.n_items().min(5000)).map(|i| ds.items.raw(i as u32).to_string()).collect();
        std::thread::spawn(move || {
            let mut k = 3usize;
            while !stop.load(Ordering::Relaxed) {
                let fresh = new_ids.lock().expect("lock").clone();
                let events: Vec<serde_json::Value> = (0..8usize)
                    .map(|j| {
                        k = k.wrapping_mul(29).wrapping_add(13) % 1_000_003;
                        let item = if j.is_multiple_of(2) && !fresh.is_empty() { &fresh[k % fresh.len()] } else { &items[k % items.len()] };
                        json!({ "user": users[k % users.len()], "item": item, "clicked": k.is_multiple_of(3) })
                    })
                    .collect();
                let t = Instant::now();
                match post_as(addr, "/events", &json!({ "events": events }), &token) {
                    Ok(r) if r.status == 200 => lat.lock().expect("lock").push(t.elapsed().as_secs_f64()),
                    _ => *err.lock().expect("lock") += 1,
                }
            }
        })
    };
    let t0 = Instant::now();
    let (mut ack, mut visible) = (Vec::new(), Vec::new());
    let (mut ingested, mut never, mut rejected) = (0usize, 0usize, 0usize);
    for k in 0..o.items {
        if t0.elapsed().as_secs_f64() > o.seconds {
            break;
        }
        let (title, img) = &content[k % content.len()];
        let id = format!("new-{k}");
        let t = Instant::now();
        let r = post_as(addr, "/items", &item_body(&id, title, img.as_ref(), &images), &token)?;
        if r.status != 201 {
            rejected += 1;
            eprintln!("  {id}: {} {}", r.status, r.body);
            continue;
        }
        ack.push(t.elapsed().as_secs_f64());
        ingested += 1;
        new_ids.lock().expect("lock").push(id.clone());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if retrievable(addr, &id) {
                visible.push(t.elapsed().as_secs_f64());
                break;
            }
            if Instant::now() > deadline {
                never += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().map_err(|_| anyhow::anyhow!("load thread panicked"))?;
    }
    feedback.join().map_err(|_| anyhow::anyhow!("feedback thread panicked"))?;
    events_client.join().map_err(|_| anyhow::anyhow!("events thread panicked"))?;
    let mut el = events_lat.lock().expect("lock").clone();
    let events_errors = *events_err.lock().expect("lock");
    let learned: u64 = {
        let ids = new_ids.lock().expect("lock").clone();
        let mut n = 0;
        for id in &ids {
            n += get(addr, &format!("/items/{id}"))?.json()["learned_clicks"].as_u64().unwrap_or(0);
        }
        n
    };
    let mut sl = stats_lat.lock().expect("lock").clone();
    let stats_errors = *stats_err.lock().expect("lock");
    let metrics = get(addr, "/metrics")?.body;
    let gauge = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let (coverage, lookup_cov) = (gauge("fuserec_coverage"), gauge("fuserec_lookup_coverage"));
    let mut rl = recall_lat.lock().expect("lock").clone();
    let recalls = rl.len();
    let recall_errors = *recall_err.lock().expect("lock");

    // Crash: ingest from one thread and send statistics increments to one catalogue item from
    // another; SIGKILL the server after `crash_after` acknowledged items.
    eprintln!("crash test: ingesting and updating, killing the server after {} acknowledged items…", o.crash_after);
    let counted = ds.items.raw(0).to_string();
    let exposures_of = |addr: SocketAddr| -> Result<u64> {
        get(addr, &format!("/items/{counted}"))?.json()["exposures"].as_u64().context("the counted item has no exposures field")
    };
    let before = exposures_of(addr)?;
    // …and one click event at a time on a new item (its id row learns from each).
    let (title, img) = &content[1 % content.len()];
    let r = post_as(addr, "/items", &item_body("crash-clicked", title, img.as_ref(), &images), &token)?;
    anyhow::ensure!(r.status == 201, "crash-clicked: {} {}", r.status, r.body);
    let acked_events = Arc::new(AtomicUsize::new(0));
    let clicker = {
        let (acked, token, user) = (acked_events.clone(), token.clone(), users[0].clone());
        std::thread::spawn(move || {
            loop {
                let body = json!({ "events": [{ "user": user, "item": "crash-clicked", "clicked": true }] });
                match post_as(addr, "/events", &body, &token) {
                    Ok(r) if r.status == 200 => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
        })
    };
    let acked_updates = Arc::new(AtomicUsize::new(0));
    let updater = {
        let (acked, token, id) = (acked_updates.clone(), token.clone(), counted.clone());
        std::thread::spawn(move || {
            loop {
                match post_as(addr, "/stats", &json!({ "id": id, "exposures": 1 }), &token) {
                    Ok(r) if r.status == 200 => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
        })
    };
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let (acked, content, images, token) = (acked.clone(), content.clone(), images.clone(), token.clone());
        std::thread::spawn(move || {
            for k in 0..100_000usize {
                let (title, img) = &content[k % content.len()];
                let id = format!("crash-{k}");
                match post_as(addr, "/items", &item_body(&id, title, img.as_ref(), &images), &token) {
                    Ok(r) if r.status == 201 => acked.lock().expect("lock").push(id),
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
        })
    };
    while acked.lock().expect("lock").len() < o.crash_after {
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill()?;
    child.wait()?;
    writer.join().map_err(|_| anyhow::anyhow!("writer panicked"))?;
    updater.join().map_err(|_| anyhow::anyhow!("updater panicked"))?;
    clicker.join().map_err(|_| anyhow::anyhow!("clicker panicked"))?;
    let acked_events = acked_events.load(Ordering::SeqCst) as u64;
    let acked = acked.lock().expect("lock").clone();
    let acked_updates = acked_updates.load(Ordering::SeqCst) as u64;
    let (mut child, addr, reboot) = start(bin, &dir, cache, &images, o.store.as_deref())?;
    // Every acknowledged increment is there; at most the one in flight at the kill is extra.
    let applied = exposures_of(addr)? - before;
    let updates_ok = (acked_updates..=acked_updates + 1).contains(&applied);
    let clicked = get(addr, "/items/crash-clicked")?.json();
    let (ev_exposures, ev_learned) = (clicked["exposures"].as_u64().unwrap_or(0), clicked["learned_clicks"].as_u64().unwrap_or(0));
    let events_ok = (acked_events..=acked_events + 1).contains(&ev_exposures) && ev_learned == ev_exposures;
    let mut lost = Vec::new();
    for id in acked.iter().chain((0..ingested).map(|k| format!("new-{k}")).collect::<Vec<_>>().iter()) {
        let r = get(addr, &format!("/items/{id}"))?;
        if r.status != 200 || r.json()["indexed"] != true {
            lost.push(id.clone());
        }
    }
    let after_restart = acked.iter().filter(|id| retrievable(addr, id)).count();
    child.kill()?;
    child.wait()?;

    let mut ack_s = ack.clone();
    let mut vis_s = visible.clone();
    let rows = vec![
        (
            "new items ingested (acknowledged)",
            format!("{ingested}, {rejected} refused; {:.0} items/s back to back (one client)", ingested as f64 / ack.iter().sum::<f64>()),
        ),
        (
            "ingest acknowledged (durable) p50 / p99",
            format!("{:.1} / {:.1} ms", 1e3 * quantile(&mut ack_s, 0.5), 1e3 * quantile(&mut ack_s, 0.99)),
        ),
        ("ingest → retrievable p50 / p99", format!("{:.1} / {:.1} ms", 1e3 * quantile(&mut vis_s, 0.5), 1e3 * quantile(&mut vis_s, 0.99))),
        ("in the index but not in their own top 10 within 5 s", never.to_string()),
        (
            "recall requests (concurrent with ingestion and feedback)",
            format!("{recalls} from {} clients in {wall:.1}s = {:.0} QPS, {recall_errors} failed", o.clients, recalls as f64 / wall),
        ),
        (
            "recall latency p50 / p99 (client side)",
            format!("{:.2} / {:.2} ms", 1e3 * quantile(&mut rl, 0.5), 1e3 * quantile(&mut rl, 0.99)),
        ),
        (
            "statistics feedback (POST /stats, one client) p50 / p99",
            format!(
                "{:.1} / {:.1} ms, {} requests, {stats_errors} failed",
                1e3 * quantile(&mut sl, 0.5),
                1e3 * quantile(&mut sl, 0.99),
                sl.len()
            ),
        ),
        (
            "feedback events (POST /events, one client, 8 events each) p50 / p99",
            format!(
                "{:.1} / {:.1} ms, {} requests, {events_errors} failed; {learned} clicks learned by new items' rows",
                1e3 * quantile(&mut el, 0.5),
                1e3 * quantile(&mut el, 0.99),
                el.len()
            ),
        ),
        ("coverage (stored items retrievable, /metrics)", format!("{coverage:.4}")),
        ("lookup coverage (recall item ids found)", format!("{lookup_cov:.4}")),
        ("server start: first / after kill -9", format!("{boot:.1} s / {reboot:.1} s")),
        ("acknowledged before kill -9", acked.len().to_string()),
        ("acknowledged items lost after restart", format!("{} of {}", lost.len(), acked.len() + ingested)),
        ("crash-test items retrievable after restart", format!("{after_restart} of {}", acked.len())),
        (
            "statistics increments acknowledged before kill -9 / found after restart",
            format!("{acked_updates} / {applied} ({})", if updates_ok { "none lost" } else { "MISMATCH" }),
        ),
        (
            "click events acknowledged before kill -9 / exposures and learned clicks after restart",
            format!("{acked_events} / {ev_exposures} and {ev_learned} ({})", if events_ok { "none lost" } else { "MISMATCH" }),
        ),
    ];
    let table = fuserec::eval::markdown_table(
        &["serve-bench", "value"],
        &rows.iter().map(|(a, b)| vec![a.to_string(), b.clone()]).collect::<Vec<_>>(),
    );
    let report = format!(
        "# serve-bench\n\n- synthetic world (scale 1), additive two-tower; {} catalogue items; new items = catalogue titles + image files under new ids\n- git {}\n\n{table}\n",
        trained.dataset.items,
        fuserec::core::provenance::git_revision()
    );
    std::fs::write(dir.join("report.md"), &report)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(
            &json!({ "ack_seconds": ack, "retrievable_seconds": visible, "recall_seconds_p50": quantile(&mut rl.clone(), 0.5), "recall_seconds_p99": quantile(&mut rl.clone(), 0.99), "recalls": recalls, "recall_clients": o.clients, "stats_seconds_p99": quantile(&mut sl.clone(), 0.99), "events_seconds_p99": quantile(&mut el.clone(), 0.99), "learned_clicks": learned, "errors": recall_errors + stats_errors + events_errors + rejected, "wall_seconds": wall, "coverage": coverage, "acknowledged_before_kill": acked.len(), "lost": lost }),
        )?,
    )?;
    println!("{report}\nwrote {}", dir.display());
    if !lost.is_empty() {
        bail!("{} acknowledged items lost: {:?}", lost.len(), &lost[..lost.len().min(10)]);
    }
    if !updates_ok {
        bail!("{acked_updates} statistics increments acknowledged before kill -9, {applied} found after restart");
    }
    if !events_ok {
        bail!(
            "{acked_events} click events acknowledged before kill -9; after restart {ev_exposures} exposures, {ev_learned} learned clicks"
        );
    }
    if recall_errors + stats_errors + events_errors + rejected > 0 {
        bail!("errors under load: {recall_errors} recall, {stats_errors} stats, {events_errors} events, {rejected} ingestions refused");
    }
    Ok(())
}
