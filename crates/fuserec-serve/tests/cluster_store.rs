//! Serving on a Redis Cluster (3 primaries + 3 replicas on loopback, started by
//! `scripts/redis-cluster`): the store's compare-and-set under concurrent writers, the same HTTP
//! routes as on redb, and a primary killed mid-run losing no acknowledged item.

mod common;

use fuserec_index::{ItemRecord, LiveIndex, RecordStore, RedisClusterConfig, RedisClusterStore};
use fuserec_serve::client::{get, post};
use fuserec_serve::{Server, StoreSpec};
use serde_json::json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A loopback Redis Cluster for one test, stopped on drop.
struct Cluster {
    dir: PathBuf,
    nodes: Vec<String>,
    /// The `redis-cli` the script built.
    cli: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/redis-cluster")
}

impl Cluster {
    /// Six nodes on free ports; `None` (test skipped) when Redis cannot be had here, unless
    /// `FUSEREC_REQUIRE_ASSETS=1` (CI), where that fails the test.
    fn up(tag: &str) -> Option<Cluster> {
        let dir = std::env::temp_dir().join(format!("{tag}-redis-{}", std::process::id()));
        // Six ports and their cluster-bus ports (+10000), all free.
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        let start = 20000 + (std::process::id() % 997) as u16 * 10;
        let base = (0..200u16)
            .map(|i| 20000 + (start - 20000 + i * 10) % 10000)
            .find(|&b| (b..b + 6).all(|p| free(p) && free(p + 10000)))
            .expect("six free ports");
        let out = Command::new("bash").arg(script()).args(["up", dir.to_str().unwrap(), &base.to_string()]).output().unwrap();
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(std::env::var("FUSEREC_REQUIRE_ASSETS").as_deref() != Ok("1"), "FUSEREC_REQUIRE_ASSETS=1: no Redis Cluster: {why}");
            eprintln!("skipped: no Redis Cluster here ({why})");
            return None;
        }
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let home = Command::new("bash").arg(script()).args(["install", "-"]).output().unwrap();
        let cli = PathBuf::from(String::from_utf8_lossy(&home.stdout).trim()).join("bin/redis-cli");
        let StoreSpec::RedisCluster(nodes) = StoreSpec::parse(&url) else { panic!("{url}") };
        assert_eq!(nodes.len(), 6, "{url}");
        Some(Cluster { dir, nodes, cli })
    }

    /// SIGKILLs the node on `port`.
    fn kill(&self, port: u16) {
        let st = Command::new("bash").arg(script()).args(["kill", self.dir.to_str().unwrap(), &port.to_string()]).status().unwrap();
        assert!(st.success());
    }

    /// Starts a killed node again: it rejoins as a replica of the node that took over.
    fn restart(&self, port: u16) {
        let st = Command::new("bash").arg(script()).args(["restart", self.dir.to_str().unwrap(), &port.to_string()]).status().unwrap();
        assert!(st.success());
    }

    /// The port of the primary serving `key`'s slot, asked of the cluster.
    fn primary_of(&self, key: &str) -> u16 {
        let cli = |args: &[&str]| {
            let out = Command::new(&self.cli).arg("-u").arg(format!("redis://{}", self.nodes[0])).args(args).output().unwrap();
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        let slot: u16 = cli(&["cluster", "keyslot", key]).trim().parse().unwrap();
        for line in cli(&["cluster", "nodes"]).lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if !f[2].contains("master") || f[2].contains("fail") {
                continue;
            }
            for range in &f[8..] {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                if (a.parse::<u16>().unwrap()..=b.parse::<u16>().unwrap()).contains(&slot) {
                    return f[1].split('@').next().unwrap().rsplit(':').next().unwrap().parse().unwrap();
                }
            }
        }
        panic!("no primary serves slot {slot}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).args(["down", self.dir.to_str().unwrap()]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn record(id: &str, x: f32) -> ItemRecord {
    ItemRecord {
        id: id.into(),
        key: 0,
        version: 0,
        text: format!("title of {id}"),
        created_at: 100,
        exposures: 0,
        clicks: 0,
        codes: vec![3, 17],
        has_image: false,
        has_text: true,
        gate: 0.5,
        model_row: None,
        id_row: Vec::new(),
        id_state: Vec::new(),
        id_steps: 0,
        features: vec![x, -x],
        // Norms 1–1.35 for x ≤ 90: inside the bound the first write sets (4 × its norm).
        vector: vec![x * 0.01, 1.0, f32::MIN_POSITIVE, -0.0],
    }
}

#[test]
fn records_survive_concurrent_writers_and_a_killed_primary() {
    let Some(cluster) = Cluster::up("fuserec-store") else { return };
    let store = RedisClusterStore::open(RedisClusterConfig::new(cluster.nodes.clone())).unwrap();
    assert!(RecordStore::is_empty(&store).unwrap());
    // Keys are assigned once, in order; a replacement keeps key and creation time.
    let a = store.put(record("a", 1.0)).unwrap();
    let b = store.put(record("b", 2.0)).unwrap();
    assert_eq!((a.key, a.version, b.key, b.version), (0, 1, 1, 1));
    let mut a2 = record("a", 3.0);
    a2.created_at = 999;
    let a2 = store.put(a2).unwrap();
    assert_eq!((a2.key, a2.version, a2.created_at), (0, 2, 100));
    // Vectors round-trip bit for bit (a denormal and a negative zero included).
    let got = store.get("b").unwrap().unwrap();
    assert_eq!(
        got.vector.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        record("b", 2.0).vector.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert!(store.update("nope", &mut |_| Ok(())).unwrap().is_none());
    let e = store.update_many(&["a", "zz"], &mut |r| {
        r.exposures += 1;
        Ok(())
    });
    assert!(e.unwrap_err().to_string().contains("unknown item `zz`"));
    assert_eq!(store.get("a").unwrap().unwrap().exposures, 0, "an unknown id writes nothing");

    // Two writers adding to one item: compare-and-set loses no increment.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mine = RedisClusterStore::open(RedisClusterConfig::new(cluster.nodes.clone())).unwrap();
                for _ in 0..40 {
                    mine.update("b", &mut |r| {
                        r.exposures += 1;
                        Ok(())
                    })
                    .unwrap();
                }
            });
        }
    });
    let b = store.get("b").unwrap().unwrap();
    assert_eq!((b.exposures, b.version), (80, 81));

    // Items spread over the three shards; then the primary holding `item-7` is killed.
    for i in 0..60 {
        store.put(record(&format!("item-{i}"), i as f32)).unwrap();
    }
    let victim = cluster.primary_of(&RedisClusterStore::key_of("item-7"));
    let elsewhere = (0..60).map(|i| format!("item-{i}")).find(|id| cluster.primary_of(&RedisClusterStore::key_of(id)) != victim).unwrap();
    cluster.kill(victim);
    // Every acknowledged item is readable once the replica took over (reads wait for it), and a
    // listing is complete, never a partial one from the surviving shards.
    assert_eq!(store.all().unwrap().len(), 62);
    assert_eq!(store.get("item-7").unwrap().unwrap().vector[0], record("", 7.0).vector[0]);
    // Other shards take writes as before.
    store
        .update(&elsewhere, &mut |r| {
            r.exposures = 3;
            Ok(())
        })
        .unwrap();
    // The failed-over shard has one copy left: a write there is not acknowledged until a replica
    // has it. The killed node comes back (as an operator's supervisor would restart it), rejoins
    // as a replica, and the write is acknowledged.
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            cluster.restart(victim);
        });
        store
            .update("item-7", &mut |r| {
                r.exposures = 5;
                Ok(())
            })
            .unwrap();
    });
    for i in 60..90 {
        store.put(record(&format!("item-{i}"), i as f32)).unwrap();
    }
    let all = store.all().unwrap();
    assert_eq!(all.len(), 92, "two named items and 90 numbered ones");
    assert_eq!(RecordStore::len(&store).unwrap(), 92);
    let mut keys: Vec<u32> = all.iter().map(|r| r.key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 92, "no key handed out twice");
    let seven = store.get("item-7").unwrap().unwrap();
    assert_eq!((seven.exposures, seven.version, seven.vector[0]), (5, 2, record("", 7.0).vector[0]));
    assert!(all.iter().any(|r| r.id == "item-89" && r.vector[0] == record("", 89.0).vector[0]));
    assert_eq!(store.get(&elsewhere).unwrap().unwrap().exposures, 3);
}

/// A deterministic vector of width `d` (a linear congruential stream), norm about 0.3–1.7.
fn vector(seed: u64, d: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let scale = 0.3 + (seed % 7) as f32 * 0.2;
    (0..d)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale * 3.4 / (d as f32).sqrt()
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The exact top `k` keys of `records` by inner product with `q`, leaving out `exclude`.
fn exact_top(records: &[ItemRecord], q: &[f32], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
    let mut all: Vec<(u32, f32)> = records.iter().filter(|r| !exclude.contains(&r.key)).map(|r| (r.key, dot(q, &r.vector))).collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

#[test]
fn vector_search_on_the_cluster_finds_the_inner_product_top_k_through_a_failover() {
    let Some(cluster) = Cluster::up("fuserec-vsearch") else { return };
    let store = RedisClusterStore::open(RedisClusterConfig::new(cluster.nodes.clone())).unwrap();
    assert!(store.search(&[1.0; 16], 5, &[]).unwrap().is_empty(), "an empty store finds nothing");
    let d = 16;
    let recs: Vec<ItemRecord> = (0..400)
        .map(|i| {
            let mut r = record(&format!("v{i}"), 0.0);
            r.vector = vector(i, d);
            r
        })
        .collect();
    assert_eq!(store.put_many(recs).unwrap(), 400);
    let stored = store.all().unwrap();
    assert_eq!((LiveIndex::len(&store).unwrap(), stored.len()), (400, 400));
    // Every vector is in the index as stored (to the rounding of Redis's normalisation).
    for r in stored.iter().step_by(37) {
        let v = store.vector(r).unwrap().expect("indexed");
        assert!(v.iter().zip(&r.vector).all(|(a, b)| (a - b).abs() < 1e-5), "{}: {v:?} vs {:?}", r.id, r.vector);
    }
    // Recall@10 against exact inner products, scores as the inner product, exclusion honoured.
    let (mut found, mut asked) = (0, 0);
    for qi in 0..30 {
        let q = vector(10_000 + qi, d);
        let exclude: Vec<u32> = {
            let mut e: Vec<u32> = exact_top(&stored, &q, 3, &[]).iter().map(|h| h.0).collect();
            e.sort_unstable();
            e
        };
        let want = exact_top(&stored, &q, 10, &exclude);
        let got = store.search(&q, 10, &exclude).unwrap();
        assert_eq!(got.len(), 10);
        assert!(got.windows(2).all(|w| w[0].score >= w[1].score), "best first");
        for h in &got {
            assert!(exclude.binary_search(&h.key).is_err(), "excluded key {} came back", h.key);
            let r = stored.iter().find(|r| r.key == h.key).unwrap();
            assert_eq!(h.id, r.id);
            let exact = dot(&q, &r.vector);
            assert!((h.score - exact).abs() < 1e-4 * (1.0 + exact.abs()), "{}: score {} vs inner product {exact}", h.id, h.score);
        }
        found += want.iter().filter(|w| got.iter().any(|h| h.key == w.0)).count();
        asked += want.len();
    }
    let recall = found as f64 / asked as f64;
    assert!(recall >= 0.95, "recall@10 {recall}");

    // A changed vector is searchable at once: item v5 moved onto a query's direction.
    let q = vector(20_000, d);
    let n = dot(&q, &q).sqrt();
    let moved = store
        .update("v5", &mut |r| {
            r.vector = q.iter().map(|x| x / n * 1.9).collect();
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert_eq!(store.search(&q, 1, &[]).unwrap()[0].id, "v5");
    // The primary holding v5 (record and vector) is killed: once its replica took over, the
    // search still finds v5 where it moved to (the update reached the replica), and the index
    // still holds all 400.
    let victim = cluster.primary_of(&RedisClusterStore::key_of("v5"));
    cluster.kill(victim);
    let top = store.search(&q, 1, &[]).unwrap();
    assert_eq!((top[0].id.as_str(), top[0].key), ("v5", moved.key));
    assert!((top[0].score - 1.9 * n).abs() < 1e-4 * 1.9 * n);
    assert_eq!(LiveIndex::len(&store).unwrap(), 400);
    cluster.restart(victim);
    // A vector longer than the store's bound (4 × the first write's longest) is refused, and
    // nothing is written.
    let mut long = record("too-long", 0.0);
    long.vector = vec![100.0; d];
    let e = store.put(long).unwrap_err().to_string();
    assert!(e.contains("too-long") && e.contains("exceeds the store's bound"), "{e}");
    assert!(store.get("too-long").unwrap().is_none());
    // A vector of another width is refused by the vector set before anything is written.
    let mut wide = record("wide", 0.0);
    wide.vector = vec![0.1; d + 1];
    assert!(store.put(wide).is_err());
    assert!(store.get("wide").unwrap().is_none());
    assert_eq!(LiveIndex::len(&store).unwrap(), 400);
}

const MODEL: &str = r#"
[split]
kind = "cold-start"
cold_fraction = 0.2
cold_val_fraction = 0.1
[[model]]
kind = "two-tower"
fusion = "additive"
epochs = 2
"#;

#[test]
fn serving_on_the_cluster_survives_a_node_kill() {
    let Some(cluster) = Cluster::up("fuserec-serve-cluster") else { return };
    let (dir, _exp, ds) = common::train("fuserec-serve-cluster", "serve-cluster", &common::small_world("serve-cluster", MODEL));
    let n_items = ds.n_items();
    let mut cfg = common::config(&dir, 0);
    cfg.store = StoreSpec::RedisCluster(cluster.nodes.clone());
    let server = Server::start(cfg.clone()).unwrap();
    let addr = server.addr;
    // The catalogue went into the cluster as evaluated.
    common::assert_serves_what_was_evaluated(&server, &dir.join("ck/model0-seed1.fuserec"));
    assert_eq!(get(addr, "/health").unwrap().json()["items"].as_u64(), Some(n_items as u64));

    // Ingest, statistics and events through the same routes as on redb.
    let title = |i: usize| ds.items_meta[i].title.clone();
    for i in 0..6 {
        let r = post(addr, "/items", &json!({ "id": format!("new-{i}"), "title": title(i + 5) })).unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = post(addr, "/stats", &json!({ "id": "new-1", "exposures": 100, "clicks": 9 })).unwrap();
    assert_eq!((r.status, r.json()["version"].as_u64()), (200, Some(2)), "{}", r.body);
    let user = ds.users.raw(0).to_string();
    let r = post(addr, "/events", &json!({ "events": [{ "user": user, "item": "new-2", "clicked": true }, { "item": "new-2" }] })).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // Filtered recall: the user's training items stay out.
    let r = post(addr, "/recall", &json!({ "user": user, "k": 20 })).unwrap();
    let got: Vec<String> = r.json()["items"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_string()).collect();
    let seen: Vec<String> = server.app.model().seen[0].iter().map(|&i| ds.items.raw(i).to_string()).collect();
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|g| !seen.contains(g)), "seen items came back");

    // Kill the primary holding new-3 and keep writing to it: acknowledged once the replica took
    // over and the killed node is back as its replica (restarted a second later).
    let victim = cluster.primary_of(&RedisClusterStore::key_of("new-3"));
    cluster.kill(victim);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            cluster.restart(victim);
        });
        let r = post(addr, "/stats", &json!({ "id": "new-3", "exposures": 40, "clicks": 4 })).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    });
    let r = post(addr, "/items", &json!({ "id": "new-after-kill", "title": title(20) })).unwrap();
    assert_eq!(r.status, 201, "{}", r.body);

    // A fresh server rebuilds its index from the cluster: everything
    // acknowledged is there and retrievable for its own content.
    server.stop();
    let server = Server::start(cfg).unwrap();
    let addr = server.addr;
    assert_eq!(get(addr, "/health").unwrap().json()["items"].as_u64(), Some(n_items as u64 + 7));
    let item = |id: &str| get(addr, &format!("/items/{id}")).unwrap().json();
    assert_eq!((item("new-1")["exposures"].as_u64(), item("new-1")["clicks"].as_u64()), (Some(100), Some(9)));
    assert_eq!((item("new-2")["exposures"].as_u64(), item("new-2")["learned_clicks"].as_u64()), (Some(2), Some(1)));
    assert_eq!((item("new-3")["exposures"].as_u64(), item("new-3")["version"].as_u64()), (Some(40), Some(2)));
    for id in ["new-0", "new-3", "new-5", "new-after-kill"] {
        let r = post(addr, "/recall", &json!({ "items": [id], "k": 10, "exclude_seen": false })).unwrap();
        assert!(r.body.contains(&format!("\"{id}\"")), "{id}: {}", r.body);
    }
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
