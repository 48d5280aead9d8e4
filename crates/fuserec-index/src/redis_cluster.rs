//! The item records on a Redis Cluster: the cluster shards them by id (hash slots) and
//! replicates each shard; a write is acknowledged only after `WAIT` saw it on a replica of the
//! shard's primary, so killing any one node (primary or replica) loses no acknowledged item:
//! the replica that has it is promoted.
//!
//! Layout: hash `fuserec:item:<id>` holds the record (field `rec`, the redb store's encoding) and
//! the token of the write that set it (field `w`), `fuserec:next_key`
//! the next free `u32` key (`INCR`, replicated before the key is used, so a failover never hands
//! a key out twice). The cluster's keyspace is the store's own: `len` counts every key.
//!
//! One item's read-modify-write is a compare-and-set script on its shard; a write whose answer
//! was lost (a primary killed mid-request) is retried and recognised as already applied by its
//! token (unique per process and write), so no increment is applied twice.

use crate::store::{ItemRecord, RecordStore, assign, decode, encode};
use fuserec_core::{Error, Result};
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{ErrorKind, RedisError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const NEXT_KEY: &str = "fuserec:next_key";
const ITEM_PREFIX: &str = "fuserec:item:";

/// On hash `KEYS[1]`: sets field `rec` to `ARGV[2]` and `w` to the write's token `ARGV[4]` if
/// `rec` holds `ARGV[1]` (`ARGV[3] == "new"`: if the item is absent). 1 when written, or when
/// this very write (its token) was already applied (a retry whose first answer was lost: the
/// token is written again, so that this connection's `WAIT` covers the first write too); 0
/// when another writer changed the item first.
const CAS: &str = r"
if redis.call('HGET', KEYS[1], 'w') == ARGV[4] then
  redis.call('HSET', KEYS[1], 'w', ARGV[4])
  return 1
end
local cur = redis.call('HGET', KEYS[1], 'rec')
if ARGV[3] == 'new' then
  if cur then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'w', ARGV[4])
return 1";

/// Where the cluster is and how strict an acknowledgement is.
#[derive(Clone, Debug)]
pub struct RedisClusterConfig {
    /// Seed nodes, `host:port` (any of the cluster's; the client discovers the rest).
    pub nodes: Vec<String>,
    /// Replicas that must hold a write before it is acknowledged (`WAIT`); 0 acknowledges on the
    /// primary alone (a primary's loss can then lose the last writes).
    pub replicas: usize,
    /// How long a write waits for its replicas.
    pub wait_timeout: Duration,
    /// How long an operation keeps retrying while the cluster fails over (a primary lost, its
    /// replica not yet promoted) before it is an error.
    pub retry_for: Duration,
}

impl RedisClusterConfig {
    /// A cluster from `host:port` seeds with the defaults: one replica per write, 2 s for it,
    /// 20 s of retries through a failover.
    pub fn new(nodes: Vec<String>) -> Self {
        RedisClusterConfig { nodes, replicas: 1, wait_timeout: Duration::from_secs(2), retry_for: Duration::from_secs(20) }
    }
}

/// [`RecordStore`] on a Redis Cluster (see the module documentation).
pub struct RedisClusterStore {
    cfg: RedisClusterConfig,
    client: ClusterClient,
    conn: Mutex<ClusterConnection>,
    cas: redis::Script,
    /// This process's random prefix of write tokens, and the count of writes so far.
    nonce: u64,
    writes: std::sync::atomic::AtomicU64,
}

fn store_err(cfg: &RedisClusterConfig, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("item store redis-cluster({}): {what}: {e}", cfg.nodes.join(",")))
}

/// Errors a failover or a restart produces; anything else (a script error, a wrong type) is not
/// retried.
fn transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_cluster_error()
        || matches!(e.kind(), ErrorKind::Server(_)) && {
            let s = e.to_string();
            ["CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK", "LOADING", "MASTERDOWN", "READONLY"].iter().any(|k| s.contains(k))
        }
}

impl RedisClusterStore {
    /// Connects to the cluster (retrying while it forms, up to `retry_for`).
    pub fn open(cfg: RedisClusterConfig) -> Result<Self> {
        if cfg.nodes.is_empty() {
            return Err(Error::Config("redis cluster: no node given (host:port, comma-separated)".into()));
        }
        let urls: Vec<String> = cfg.nodes.iter().map(|n| format!("redis://{n}/")).collect();
        let client = ClusterClient::builder(urls)
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(cfg.wait_timeout + Duration::from_secs(5))
            .retries(2)
            .build()
            .map_err(|e| store_err(&cfg, "client", e))?;
        let t0 = Instant::now();
        let conn = loop {
            match client.get_connection() {
                Ok(c) => break c,
                Err(_) if t0.elapsed() < cfg.retry_for => {
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(store_err(&cfg, "connecting", e)),
            }
        };
        use std::hash::{BuildHasher, Hasher};
        let nonce = std::collections::hash_map::RandomState::new().build_hasher().finish();
        Ok(RedisClusterStore { cfg, client, conn: Mutex::new(conn), cas: redis::Script::new(CAS), nonce, writes: Default::default() })
    }

    /// Runs `op` on the connection, retrying transient errors (with a fresh connection) until
    /// `retry_for` has passed.
    fn with_retry<T>(&self, what: &str, mut op: impl FnMut(&mut ClusterConnection) -> redis::RedisResult<T>) -> Result<T> {
        let t0 = Instant::now();
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match op(&mut conn) {
                Ok(v) => return Ok(v),
                Err(e) if transient(&e) && t0.elapsed() < self.cfg.retry_for => {
                    std::thread::sleep(Duration::from_millis(200));
                    if let Ok(c) = self.client.get_connection() {
                        *conn = c;
                    }
                }
                Err(e) => return Err(store_err(&self.cfg, what, e)),
            }
        }
    }

    /// Waits until `key`'s shard has the writes this connection sent it on `replicas` replicas;
    /// when it has not, an error [`with_retry`](Self::with_retry) retries (the write is then
    /// recognised as applied, and the wait repeats: a failed-over shard acknowledges again once
    /// a replica is back).
    fn replicated(conn: &mut ClusterConnection, cfg: &RedisClusterConfig, key: &str) -> redis::RedisResult<()> {
        if cfg.replicas == 0 {
            return Ok(());
        }
        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master)));
        let mut wait = redis::cmd("WAIT");
        wait.arg(cfg.replicas).arg(cfg.wait_timeout.as_millis() as u64);
        let n: usize = redis::from_redis_value(conn.route_command(&wait, route)?)?;
        if n >= cfg.replicas {
            return Ok(());
        }
        Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{key}: on {n} of {} replica(s) after {:?}; not acknowledged", cfg.replicas, cfg.wait_timeout),
        )))
    }

    fn fresh_key(&self) -> Result<u64> {
        let k: u64 = self.with_retry("assigning a key", |c| {
            let k: u64 = redis::cmd("INCR").arg(NEXT_KEY).query(c)?;
            Self::replicated(c, &self.cfg, NEXT_KEY)?;
            Ok(k)
        })?;
        Ok(k - 1)
    }

    fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.with_retry(&format!("reading {key}"), |c| redis::cmd("HGET").arg(key).arg("rec").query(c))
    }

    /// Read-modify-write of one item with compare-and-set, retried when another writer won.
    fn write(&self, id: &str, f: &mut dyn FnMut(Option<&ItemRecord>) -> Result<Option<ItemRecord>>) -> Result<Option<ItemRecord>> {
        let key = format!("{ITEM_PREFIX}{id}");
        for _ in 0..64 {
            let raw = self.get_raw(&key)?;
            let old = raw.as_deref().map(|b| decode(id, b)).transpose()?;
            let Some(mut rec) = f(old.as_ref())? else { return Ok(None) };
            if rec.id != id {
                return Err(Error::Invalid(format!("item store: record for `{id}` names `{}`", rec.id)));
            }
            let mut next = match old {
                Some(_) => 0,
                None => self.fresh_key()?,
            };
            assign(&mut rec, old.as_ref(), &mut next)?;
            let bytes = encode(&rec);
            let expect = raw.unwrap_or_default();
            let mode = if old.is_none() { "new" } else { "replace" };
            let token = format!("{:016x}:{}", self.nonce, self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let won = self.with_retry(&format!("writing {key}"), |c| {
                let won: i64 = self.cas.key(&key).arg(&expect[..]).arg(&bytes[..]).arg(mode).arg(&token).invoke(c)?;
                if won == 1 {
                    Self::replicated(c, &self.cfg, &key)?;
                }
                Ok(won == 1)
            })?;
            if won {
                return Ok(Some(rec));
            }
        }
        Err(store_err(&self.cfg, &format!("writing item `{id}`"), "64 concurrent writers in a row won the race"))
    }

    /// `host:port` of every primary that serves slots; retried until the primaries cover all
    /// 16,384 slots (during a failover they do not), so a listing is never silently partial.
    fn primaries(&self) -> Result<Vec<String>> {
        self.with_retry("listing the nodes", |c| {
            let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary);
            let nodes: String = redis::from_redis_value(c.route_command(redis::cmd("CLUSTER").arg("NODES"), route)?)?;
            let (mut out, mut slots) = (Vec::new(), 0usize);
            for l in nodes.lines() {
                let f: Vec<&str> = l.split_whitespace().collect();
                if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                    continue;
                }
                for r in &f[8..] {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                        slots += b + 1 - a;
                    }
                }
                out.push(f[1].split('@').next().unwrap_or(f[1]).to_string());
            }
            if slots < 16384 {
                return Err(RedisError::from(std::io::Error::other(format!("the primaries serve {slots} of 16384 slots"))));
            }
            Ok(out)
        })
    }

    /// Every `fuserec:item:*` key and value on one primary (SCAN, then GETs in one pipeline).
    fn scan_node(&self, addr: &str) -> redis::RedisResult<Vec<(String, Vec<u8>)>> {
        let client = redis::Client::open(format!("redis://{addr}/"))?;
        let mut c = client.get_connection_with_timeout(Duration::from_secs(5))?;
        let mut cursor = 0u64;
        let mut out = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) =
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(format!("{ITEM_PREFIX}*")).arg("COUNT").arg(2000).query(&mut c)?;
            if !keys.is_empty() {
                let mut p = redis::pipe();
                keys.iter().for_each(|k| {
                    p.cmd("HGET").arg(k).arg("rec");
                });
                let vals: Vec<Option<Vec<u8>>> = p.query(&mut c)?;
                out.extend(keys.into_iter().zip(vals).filter_map(|(k, v)| v.map(|v| (k, v))));
            }
            cursor = next;
            if cursor == 0 {
                return Ok(out);
            }
        }
    }
}

impl RecordStore for RedisClusterStore {
    fn put(&self, rec: ItemRecord) -> Result<ItemRecord> {
        // A lost race builds the record again (key and version come from the stored one).
        let r = self.write(&rec.id, &mut |_| Ok(Some(rec.clone())))?;
        Ok(r.expect("put always writes"))
    }

    fn put_many(&self, recs: Vec<ItemRecord>) -> Result<usize> {
        let n = recs.len();
        recs.into_iter().try_for_each(|r| self.put(r).map(|_| ()))?;
        Ok(n)
    }

    /// Each item is written atomically on its shard; the items of one call are on different
    /// shards, so the call as a whole is not one transaction: every id is checked first (an
    /// unknown id writes nothing), and an error from `f` stops before any write.
    fn update_many(&self, ids: &[&str], f: &mut dyn FnMut(&mut ItemRecord) -> Result<()>) -> Result<Vec<ItemRecord>> {
        let mut planned = Vec::with_capacity(ids.len());
        for &id in ids {
            let Some(mut rec) = self.get(id)? else { return Err(Error::Invalid(format!("item store: unknown item `{id}`"))) };
            f(&mut rec)?;
            planned.push(rec);
        }
        let mut out = Vec::with_capacity(ids.len());
        for (want, &id) in planned.into_iter().zip(ids) {
            let r = self.write(id, &mut |old| {
                let Some(old) = old else { return Err(Error::Invalid(format!("item store: unknown item `{id}`"))) };
                let mut rec = want.clone();
                (rec.key, rec.version, rec.created_at) = (old.key, old.version, old.created_at);
                Ok(Some(rec))
            })?;
            out.push(r.expect("update writes"));
        }
        Ok(out)
    }

    fn update(&self, id: &str, f: &mut dyn FnMut(&mut ItemRecord) -> Result<()>) -> Result<Option<ItemRecord>> {
        self.write(id, &mut |old| {
            let Some(old) = old else { return Ok(None) };
            let mut rec = old.clone();
            f(&mut rec)?;
            Ok(Some(rec))
        })
    }

    fn get(&self, id: &str) -> Result<Option<ItemRecord>> {
        self.get_raw(&format!("{ITEM_PREFIX}{id}"))?.map(|b| decode(id, &b)).transpose()
    }

    /// Every primary's items; a primary that cannot be reached (killed, and not yet known as
    /// failed) restarts the listing once the cluster settled, up to `retry_for`.
    fn all(&self) -> Result<Vec<ItemRecord>> {
        let t0 = Instant::now();
        let mut raw = Vec::new();
        'listing: loop {
            raw.clear();
            for node in self.primaries()? {
                match self.scan_node(&node) {
                    Ok(kv) => raw.extend(kv),
                    Err(e) if transient(&e) && t0.elapsed() < self.cfg.retry_for => {
                        std::thread::sleep(Duration::from_millis(300));
                        continue 'listing;
                    }
                    Err(e) => return Err(store_err(&self.cfg, &format!("scanning {node}"), e)),
                }
            }
            break;
        }
        let mut out = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            out.push(decode(&k[ITEM_PREFIX.len()..], &v)?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    fn len(&self) -> Result<usize> {
        let (keys, meta): (usize, usize) = self.with_retry("counting", |c| {
            let n: usize = redis::cmd("DBSIZE").query(c)?;
            let m: usize = redis::cmd("EXISTS").arg(NEXT_KEY).query(c)?;
            Ok((n, m))
        })?;
        Ok(keys.saturating_sub(meta))
    }

    fn describe(&self) -> String {
        format!("redis cluster {}", self.cfg.nodes.join(","))
    }
}
