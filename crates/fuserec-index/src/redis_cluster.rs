//! The item records and their vectors on a Redis Cluster: the cluster shards them by id (hash
//! slots) and replicates each shard; a write is acknowledged only after `WAIT` saw it on a
//! replica of the shard's primary, so killing any one node (primary or replica) loses no
//! acknowledged item: the replica that has it is promoted.
//!
//! Layout: the items fall into [`BUCKETS`] buckets by a hash of their id. Bucket `b` is one hash
//! tag (`{bB-N}`, see `tag`), so one slot: hash `fuserec:item:{<tag>}:<id>` holds an item's
//! record (field `rec`, the redb store's encoding) and the token of the write that set it (field `w`), and the vector
//! set `fuserec:vs:{<tag>}` (Redis 8's `VADD`/`VSIM`, an HNSW graph per bucket, full precision)
//! holds the vectors of the bucket's items, element `<key>:<id>`. `fuserec:next_key` is the next
//! free `u32` key (`INCR`, replicated before the key is used, so a failover never hands a key out
//! twice) and `fuserec:norm_bound` the bound `M` below.
//!
//! One item's read-modify-write is a compare-and-set script on its shard that writes the record
//! and its vector together (one slot, one script: atomic, replicated as one); a write whose answer
//! was lost (a primary killed mid-request) is retried and recognised as already applied by its
//! token (unique per process and write), so no increment is applied twice.
//!
//! Vector sets rank by cosine; fuserec ranks by inner product. Each item vector `x` is stored as
//! `[x, √(M² − |x|²)]`, all of length `M`, and a query `q` as `[q, 0]`: the cosine is then
//! `q·x / (|q| M)`, in the inner product's order, and the score is mapped back to `q·x`. `M` is
//! fixed when the store is first written (4 × the largest norm of that first write); an item
//! whose vector is longer than `M` is refused with an error. A search asks every bucket for its
//! top `k` plus the excluded items (`VSIM … COUNT`, in one pipeline) and merges.

use crate::live::{LiveIndex, Neighbour};
use crate::store::{ItemRecord, RecordStore, assign, decode, encode};
use fuserec_core::{Error, Result};
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{ErrorKind, RedisError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const NEXT_KEY: &str = "fuserec:next_key";
const NORM_BOUND: &str = "fuserec:norm_bound";
const ITEM_PREFIX: &str = "fuserec:item:";
/// Buckets the items are spread over: each is one slot (so one shard) and one vector set, and a
/// search asks all of them, so fewer buckets search faster and more spread further. The 12
/// slots are evenly spaced, so a cluster whose primaries split the slots evenly (as
/// `redis-cli --cluster create` does) gets the same number of buckets on each of 2, 3, 4, 6
/// or 12 primaries.
pub const BUCKETS: u32 = 12;

/// The bucket of an item id (FNV-1a: the same in every process and version).
fn bucket(id: &str) -> u32 {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    (h % BUCKETS as u64) as u32
}

/// Redis Cluster's slot of a hash tag (CRC16-XMODEM mod 16,384).
fn slot(tag: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(tag.as_bytes()) % 16384
}

/// Bucket `b`'s hash tag: the first `bB-N` (N = 0, 1, …) whose slot lies within 64 of the middle
/// of the `b`-th twelfth of the slots.
fn tag(b: u32) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        (0..BUCKETS)
            .map(|b| {
                let middle = ((2 * b + 1) as f64 * 16384.0 / (2 * BUCKETS) as f64) as i32;
                (0..).map(|n| format!("b{b}-{n}")).find(|t| (slot(t) as i32 - middle).abs() <= 64).expect("some tag fits")
            })
            .collect()
    });
    &tags[b as usize]
}

fn item_key(id: &str) -> String {
    format!("{ITEM_PREFIX}{{{}}}:{id}", tag(bucket(id)))
}

fn set_key(b: u32) -> String {
    format!("fuserec:vs:{{{}}}", tag(b))
}

/// The id in an item's hash key (`fuserec:item:{<tag>}:<id>`).
fn id_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(ITEM_PREFIX)?.split_once("}:").map(|(_, id)| id)
}

/// On hash `KEYS[1]` and vector set `KEYS[2]` (one slot): sets field `rec` to `ARGV[2]`, `w` to
/// the write's token `ARGV[4]` and element `ARGV[6]`'s vector to `ARGV[5]` (FP32, width
/// `ARGV[7]`) if `rec` holds `ARGV[1]` (`ARGV[3] == "new"`: if the item is absent). 1 when
/// written, or when this very write (its token) was already applied (a retry whose first answer
/// was lost: the token is written again, so that this connection's `WAIT` covers the first write
/// too); 0 when another writer changed the item first. The vector goes in first (a width that
/// does not fit the set is an error before anything is written) and by `VREM` + `VADD`: Redis
/// 8.0 does not replicate a `VADD` that updates an element.
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
if redis.call('EXISTS', KEYS[2]) == 1 then
  local d = redis.call('VDIM', KEYS[2])
  if d ~= tonumber(ARGV[7]) then
    return redis.error_reply('vector of width ' .. (tonumber(ARGV[7]) - 1) .. ' for a store of width ' .. (d - 1))
  end
end
redis.call('VREM', KEYS[2], ARGV[6])
redis.call('VADD', KEYS[2], 'FP32', ARGV[5], ARGV[6], 'NOQUANT')
redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'w', ARGV[4])
return 1";

/// `VSIM` on vector set `KEYS[1]` for the FP32 query `ARGV[1]`: the top `ARGV[2]` elements
/// with their similarities, beam `ARGV[3]`. Called from a script, `VSIM` searches on the
/// server's main thread; called directly it starts a thread per call, which costs more than
/// the search of one bucket (measured: 0.32 ms against 0.11 ms per call).
const VSIM: &str = "return redis.call('VSIM', KEYS[1], 'FP32', ARGV[1], 'WITHSCORES', 'COUNT', ARGV[2], 'EF', ARGV[3])";

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
    /// Search beam per bucket (`VSIM … EF`; at least the number of items asked for).
    pub ef_search: usize,
}

impl RedisClusterConfig {
    /// A cluster from `host:port` seeds with the defaults: one replica per write, 2 s for it,
    /// 20 s of retries through a failover.
    pub fn new(nodes: Vec<String>) -> Self {
        RedisClusterConfig { nodes, replicas: 1, wait_timeout: Duration::from_secs(2), retry_for: Duration::from_secs(20), ef_search: 64 }
    }
}

/// [`RecordStore`] and [`LiveIndex`] on a Redis Cluster (see the module documentation).
pub struct RedisClusterStore {
    cfg: RedisClusterConfig,
    client: ClusterClient,
    /// Idle connections: a request takes one (or opens one when none is idle) and puts it back,
    /// so concurrent requests (recall beside a write waiting for its replica) do not queue on
    /// one socket.
    idle: Mutex<Vec<ClusterConnection>>,
    cas: redis::Script,
    /// This process's random prefix of write tokens, and the count of writes so far.
    nonce: u64,
    writes: std::sync::atomic::AtomicU64,
    /// The norm bound `M`, once read or set.
    bound: OnceLock<f32>,
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
        Ok(RedisClusterStore {
            cfg,
            client,
            idle: Mutex::new(vec![conn]),
            cas: redis::Script::new(CAS),
            nonce,
            writes: Default::default(),
            bound: OnceLock::new(),
        })
    }

    /// The hash key holding item `id`'s record (its hash tag names the slot, so the shard, that
    /// holds the item and its vector): for operators and tests asking which node has an item.
    pub fn key_of(id: &str) -> String {
        item_key(id)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<ClusterConnection>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `op` on an idle connection (a new one when none is idle), retrying transient errors
    /// (with a fresh connection) until `retry_for` has passed.
    fn with_retry<T>(&self, what: &str, mut op: impl FnMut(&mut ClusterConnection) -> redis::RedisResult<T>) -> Result<T> {
        let t0 = Instant::now();
        let mut conn = self.idle().pop();
        loop {
            let result = match conn.as_mut() {
                Some(c) => op(c),
                None => self.client.get_connection().and_then(|c| op(conn.insert(c))),
            };
            match result {
                Ok(v) => {
                    self.idle().extend(conn);
                    return Ok(v);
                }
                Err(e) if transient(&e) && t0.elapsed() < self.cfg.retry_for => {
                    std::thread::sleep(Duration::from_millis(200));
                    conn = None;
                }
                // A refused command leaves the connection usable; one that failed in transit
                // may have left an answer unread, so it is dropped.
                Err(e) => {
                    if !transient(&e) {
                        self.idle().extend(conn);
                    }
                    return Err(store_err(&self.cfg, what, e));
                }
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

    /// The store's norm bound `M`: read from the cluster, or set there (first writer wins) to
    /// 4 × `longest` when the store has none yet. `None` when it has none and `longest` is `None`.
    fn bound(&self, longest: Option<f32>) -> Result<Option<f32>> {
        if let Some(m) = self.bound.get() {
            return Ok(Some(*m));
        }
        let m: Option<f32> = self.with_retry("reading the norm bound", |c| redis::cmd("GET").arg(NORM_BOUND).query(c))?;
        let m = match (m, longest) {
            (Some(m), _) => m,
            (None, None) => return Ok(None),
            (None, Some(n)) => self.with_retry("setting the norm bound", |c| {
                let _: () = redis::cmd("SET").arg(NORM_BOUND).arg(4.0 * n.max(1e-3)).arg("NX").query(c)?;
                Self::replicated(c, &self.cfg, NORM_BOUND)?;
                redis::cmd("GET").arg(NORM_BOUND).query(c)
            })?,
        };
        Ok(Some(*self.bound.get_or_init(|| m)))
    }

    /// `[x, √(M² − |x|²)]` as little-endian FP32 (see the module documentation).
    fn augmented(&self, rec: &ItemRecord) -> Result<Vec<u8>> {
        let n2: f64 = rec.vector.iter().map(|&x| x as f64 * x as f64).sum();
        if !n2.is_finite() {
            return Err(Error::Invalid(format!("item `{}`: its vector has a non-finite value", rec.id)));
        }
        let m = self.bound(Some(n2.sqrt() as f32))?.unwrap_or(f32::MAX) as f64;
        if n2 > m * m {
            return Err(Error::Invalid(format!(
                "item `{}`: vector norm {:.4} exceeds the store's bound {m:.4} (4 × the longest vector when the store was first written); \
                 store it in a new store",
                rec.id,
                n2.sqrt()
            )));
        }
        let tail = (m * m - n2).max(0.0).sqrt() as f32;
        Ok(rec.vector.iter().chain(std::iter::once(&tail)).flat_map(|x| x.to_le_bytes()).collect())
    }

    fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.with_retry(&format!("reading {key}"), |c| redis::cmd("HGET").arg(key).arg("rec").query(c))
    }

    /// Read-modify-write of one item with compare-and-set, retried when another writer won.
    fn write(&self, id: &str, f: &mut dyn FnMut(Option<&ItemRecord>) -> Result<Option<ItemRecord>>) -> Result<Option<ItemRecord>> {
        let (key, vs) = (item_key(id), set_key(bucket(id)));
        for _ in 0..64 {
            let raw = self.get_raw(&key)?;
            let old = raw.as_deref().map(|b| decode(id, b)).transpose()?;
            let Some(mut rec) = f(old.as_ref())? else { return Ok(None) };
            if rec.id != id {
                return Err(Error::Invalid(format!("item store: record for `{id}` names `{}`", rec.id)));
            }
            // The vector is checked before a new item takes a key.
            let vector = self.augmented(&rec)?;
            let mut next = match old {
                Some(_) => 0,
                None => self.fresh_key()?,
            };
            assign(&mut rec, old.as_ref(), &mut next)?;
            let bytes = encode(&rec);
            let element = format!("{}:{id}", rec.key);
            let expect = raw.unwrap_or_default();
            let mode = if old.is_none() { "new" } else { "replace" };
            let token = format!("{:016x}:{}", self.nonce, self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let won = self.with_retry(&format!("writing {key}"), |c| {
                let won: i64 = self
                    .cas
                    .key(&key)
                    .key(&vs)
                    .arg(&expect[..])
                    .arg(&bytes[..])
                    .arg(mode)
                    .arg(&token)
                    .arg(&vector[..])
                    .arg(&element)
                    .arg(rec.vector.len() + 1)
                    .invoke(c)?;
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
        // The bound from the whole batch (a first start's catalogue), not from its first item.
        let longest = recs.iter().map(|r| r.vector.iter().map(|x| x * x).sum::<f32>().sqrt()).fold(0f32, f32::max);
        if n > 0 {
            self.bound(Some(longest))?;
        }
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
        self.get_raw(&item_key(id))?.map(|b| decode(id, &b)).transpose()
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
            let id = id_of_key(&k).ok_or_else(|| store_err(&self.cfg, "listing", format!("`{k}` is not an item key of this layout")))?;
            out.push(decode(id, &v)?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    /// Every item has its vector in its bucket's set (one script writes both): the sets' sizes.
    fn len(&self) -> Result<usize> {
        LiveIndex::len(self)
    }

    fn describe(&self) -> String {
        format!("redis cluster {}", self.cfg.nodes.join(","))
    }
}

impl LiveIndex for RedisClusterStore {
    /// Nothing to do: the write that stored `rec` put its vector in its bucket's set, in the same
    /// script.
    fn upsert(&self, _rec: &ItemRecord) -> Result<()> {
        Ok(())
    }

    fn search(&self, query: &[f32], k: usize, exclude: &[u32]) -> Result<Vec<Neighbour>> {
        let qn = query.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        if !qn.is_finite() {
            return Err(Error::Invalid("query vector has a non-finite value".into()));
        }
        let Some(m) = self.bound(None)? else { return Ok(Vec::new()) };
        if k == 0 || qn == 0.0 {
            return Ok(Vec::new());
        }
        let blob: Vec<u8> = query.iter().chain(std::iter::once(&0f32)).flat_map(|x| x.to_le_bytes()).collect();
        let count = k + exclude.len();
        let ef = self.cfg.ef_search.max(count);
        let lists: Vec<Vec<Vec<u8>>> = self.with_retry("searching", |c| {
            let mut p = redis::cluster::cluster_pipe();
            for b in 0..BUCKETS {
                p.cmd("EVAL").arg(VSIM).arg(1).arg(set_key(b)).arg(&blob[..]).arg(count).arg(ef);
            }
            p.query(c)
        })?;
        let mut out = Vec::with_capacity(count * BUCKETS as usize);
        for list in lists {
            for pair in list.chunks_exact(2) {
                let (element, sim) = (String::from_utf8_lossy(&pair[0]), String::from_utf8_lossy(&pair[1]));
                let bad = || store_err(&self.cfg, "searching", format!("unexpected element `{element}` / score `{sim}`"));
                let (key, id) = element.split_once(':').ok_or_else(bad)?;
                let key: u32 = key.parse().map_err(|_| bad())?;
                let sim: f64 = sim.parse().map_err(|_| bad())?;
                if exclude.binary_search(&key).is_err() {
                    // similarity = (1 + cos) / 2, cos = q·x / (|q| M)
                    let score = ((2.0 * sim - 1.0) * qn * m as f64) as f32;
                    out.push(Neighbour { key, id: id.to_string(), score });
                }
            }
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.key.cmp(&b.key)));
        out.truncate(k);
        Ok(out)
    }

    fn vector(&self, rec: &ItemRecord) -> Result<Option<Vec<f32>>> {
        let (vs, element) = (set_key(bucket(&rec.id)), format!("{}:{}", rec.key, rec.id));
        let v: Option<Vec<f64>> = self.with_retry("reading a vector", |c| redis::cmd("VEMB").arg(&vs).arg(&element).query(c))?;
        Ok(v.map(|mut v| {
            v.pop();
            v.into_iter().map(|x| x as f32).collect()
        }))
    }

    fn len(&self) -> Result<usize> {
        let n: Vec<usize> = self.with_retry("counting", |c| {
            let mut p = redis::cluster::cluster_pipe();
            (0..BUCKETS).for_each(|b| {
                p.cmd("VCARD").arg(set_key(b));
            });
            p.query(c)
        })?;
        Ok(n.iter().sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_cluster_is_an_error_naming_it_after_the_retries() {
        // A port nothing listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cfg = RedisClusterConfig::new(vec![format!("127.0.0.1:{port}")]);
        cfg.retry_for = Duration::from_millis(600);
        let t0 = Instant::now();
        let e = RedisClusterStore::open(cfg).err().expect("no cluster there").to_string();
        assert!(e.contains(&format!("redis-cluster(127.0.0.1:{port})")) && e.contains("connecting"), "{e}");
        assert!(t0.elapsed() >= Duration::from_millis(600), "gave up before retry_for");
        let e = RedisClusterStore::open(RedisClusterConfig::new(Vec::new())).err().unwrap().to_string();
        assert!(e.contains("no node given"), "{e}");
    }

    #[test]
    fn an_item_key_names_its_bucket_and_gives_its_id_back() {
        // Redis's documented slots: `CLUSTER KEYSLOT foo` = 12182, `123456789` hashes to 0x31C3.
        assert_eq!((slot("foo"), slot("123456789")), (12182, 0x31c3));
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; mod 12 = 4.
        assert_eq!(bucket("a"), 4);
        let t4 = tag(4);
        assert!(t4.starts_with("b4-"));
        assert_eq!(item_key("a"), format!("fuserec:item:{{{t4}}}:a"));
        assert_eq!(set_key(4), format!("fuserec:vs:{{{t4}}}"));
        assert_eq!(id_of_key(&format!("fuserec:item:{{{t4}}}:a:b}}:c")), Some("a:b}:c"));
        // The buckets' slots are evenly spread: on three primaries splitting the slots evenly
        // (0–5460, 5461–10922, 10923–16383), four buckets each.
        let slots: Vec<u16> = (0..BUCKETS).map(|b| slot(tag(b))).collect();
        assert!(slots.windows(2).all(|w| w[0] < w[1]), "{slots:?}");
        for (lo, hi) in [(0, 5460), (5461, 10922), (10923, 16383)] {
            assert_eq!(slots.iter().filter(|&&s| (lo..=hi).contains(&s)).count(), 4, "{slots:?}");
        }
        assert_eq!(id_of_key("fuserec:next_key"), None);
        // Every bucket is used by some of 1,000 ids.
        let used: std::collections::HashSet<u32> = (0..1000).map(|i| bucket(&format!("item{i}"))).collect();
        assert_eq!(used.len(), BUCKETS as usize);
    }
}
