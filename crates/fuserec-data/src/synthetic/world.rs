use super::draw::{Sketch, draw};
use super::vocab::{FILLER, QUERY_WORDS, TOPICS};
use crate::progress::bar as progress;
use fuserec_core::{Error, Result, Rng};
use rayon::prelude::*;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

/// Knobs of the synthetic world. `scale` multiplies users and items (and so interactions):
/// scale 1 ≈ 180k impressions, scale 7 ≈ 1.26M.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorldConfig {
    /// Seed: the same config gives the same world on every machine.
    pub seed: u64,
    /// Multiplies `users` and `items`.
    pub scale: f64,
    /// Users at scale 1.
    pub users: usize,
    /// Items at scale 1.
    pub items: usize,
    /// Impressions logged per user.
    pub impressions_per_user: usize,
    /// Length of the log in days.
    pub horizon_days: f64,
    /// Share of items created after the start, uniformly over the horizon.
    pub new_item_fraction: f64,
    /// Zipf exponent of the logging policy's popularity prior.
    pub zipf: f64,
    /// Click model `σ(affinity·cos + quality_weight·q + bias)`.
    pub affinity: f64,
    /// Weight of the item's hidden quality in the click model.
    pub quality_weight: f64,
    /// Bias of the click model (sets the base CTR).
    pub bias: f64,
    /// Side of the generated square images, in pixels.
    pub image_size: u32,
    /// Search sessions per user (query text → bought item, plus items clicked but not bought).
    pub searches_per_user: f64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: 7,
            scale: 1.0,
            users: 2000,
            items: 3000,
            impressions_per_user: 80,
            horizon_days: 120.0,
            new_item_fraction: 0.3,
            zipf: 1.0,
            affinity: 4.0,
            quality_weight: 0.8,
            bias: -3.0,
            image_size: 64,
            searches_per_user: 5.0,
        }
    }
}

const T0: i64 = 1_700_000_000;
const DAY: f64 = 86_400.0;

pub struct WorldItem {
    pub primary: usize,
    pub secondary: usize,
    pub latent: Vec<f64>,
    pub quality: f64,
    pub created_at: i64,
    pub title: String,
    pub tags: Vec<String>,
}

pub struct WorldEvent {
    pub user: usize,
    pub item: usize,
    pub ts: i64,
    pub click: bool,
}

/// One search session: a noisy query for an intent, the item bought, and items clicked but not
/// bought (the hard negatives of semantic-aware contrastive learning).
pub struct WorldSearch {
    pub user: usize,
    pub ts: i64,
    pub query: String,
    pub bought: usize,
    pub clicked: Vec<usize>,
}

/// A generated world: items with latent topics, titles, tags and images, a logged impression
/// stream from a popularity-biased policy, and search sessions.
pub struct World {
    /// The knobs it was generated with.
    pub config: WorldConfig,
    /// The catalogue.
    pub items: Vec<WorldItem>,
    /// Impressions in time order.
    pub events: Vec<WorldEvent>,
    /// Search sessions in time order.
    pub searches: Vec<WorldSearch>,
}

fn normalize(v: &mut [f64]) {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

fn cumulative(w: impl Iterator<Item = f64>) -> Vec<f64> {
    w.scan(0.0, |acc, x| {
        *acc += x;
        Some(*acc)
    })
    .collect()
}

impl World {
    /// Generates the world; a scale that is not positive and finite is an error.
    pub fn generate(config: &WorldConfig) -> Result<World> {
        let c = config;
        if !(c.scale > 0.0 && c.scale.is_finite()) {
            return Err(Error::Config(format!("synthetic scale must be positive, got {}", c.scale)));
        }
        let n_items = ((c.items as f64 * c.scale).round() as usize).max(10);
        let n_users = ((c.users as f64 * c.scale).round() as usize).max(2);
        let k = TOPICS.len();
        let horizon = (c.horizon_days * DAY) as i64;
        let mut rng = Rng::derive(c.seed, 1);

        // Items, in creation order (ids are assigned in that order).
        let n_new = (n_items as f64 * c.new_item_fraction) as usize;
        let mut created: Vec<i64> =
            (0..n_items).map(|i| if i < n_items - n_new { T0 } else { T0 + (rng.uniform() * 0.9 * horizon as f64) as i64 }).collect();
        created.sort_unstable();
        let mut pop_rank: Vec<usize> = (0..n_items).collect();
        rng.shuffle(&mut pop_rank);
        let mut items = Vec::with_capacity(n_items);
        for &created_at in &created {
            let primary = rng.below(k);
            let secondary = if rng.bernoulli(0.35) { rng.below(k) } else { primary };
            let mut latent: Vec<f64> = (0..k).map(|_| 0.25 * rng.normal()).collect();
            latent[primary] += 1.0;
            latent[secondary] += 0.4;
            normalize(&mut latent);
            let n_words = 3 + rng.below(3);
            let words: Vec<&str> = (0..n_words)
                .map(|_| {
                    let x = rng.uniform();
                    let vocab = if x < 0.55 {
                        &TOPICS[primary].1[..]
                    } else if x < 0.7 {
                        &TOPICS[secondary].1[..]
                    } else {
                        FILLER
                    };
                    vocab[rng.below(vocab.len())]
                })
                .collect();
            let title = words.join(" ");
            let mut tags = vec![TOPICS[if rng.bernoulli(0.85) { primary } else { rng.below(k) }].0.to_string()];
            if secondary != primary && rng.bernoulli(0.5) {
                tags.push(TOPICS[secondary].0.to_string());
            }
            items.push(WorldItem { primary, secondary, latent, quality: rng.normal(), created_at, title, tags });
        }
        // Popularity prior: Zipf over a random rank, tilted by the hidden quality.
        let pop: Vec<f64> = (0..n_items).map(|i| (pop_rank[i] as f64 + 1.0).powf(-c.zipf) * (0.5 * items[i].quality).exp()).collect();
        let cum_pop = cumulative(pop.iter().copied());
        let mut by_topic: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (i, it) in items.iter().enumerate() {
            by_topic[it.primary].push(i);
        }
        let cum_topic: Vec<Vec<f64>> = by_topic.iter().map(|l| cumulative(l.iter().map(|&i| pop[i]))).collect();

        // Users and the logging policy. Each user has an independent stream, so generation is
        // parallel and still deterministic.
        let events: Vec<Vec<WorldEvent>> = (0..n_users)
            .into_par_iter()
            .map(|u| {
                let mut r = Rng::derive(c.seed, 1000 + u as u64);
                let (a, b) = (r.below(k), r.below(k));
                let mut pref: Vec<f64> = (0..k).map(|_| 0.3 * r.normal().abs()).collect();
                pref[a] += 1.0;
                pref[b] += 0.6;
                normalize(&mut pref);
                let n = ((c.impressions_per_user as f64 * (0.5 * r.normal()).exp()) as usize).max(10);
                let mut times: Vec<i64> = (0..n).map(|_| T0 + (r.uniform() * horizon as f64) as i64).collect();
                times.sort_unstable();
                let mut shown = HashSet::new();
                let mut out = Vec::with_capacity(n);
                for ts in times {
                    let eligible = created.partition_point(|&t| t <= ts);
                    let mut pick = || -> usize {
                        let x = r.uniform();
                        if x < 0.5 {
                            r.pick_cumulative(&cum_pop[..eligible])
                        } else if x < 0.8 {
                            let t = if r.bernoulli(0.6) { a } else { b };
                            let m = by_topic[t].partition_point(|&i| i < eligible);
                            if m == 0 {
                                return r.below(eligible);
                            }
                            by_topic[t][r.pick_cumulative(&cum_topic[t][..m])]
                        } else if x < 0.9 {
                            // Fresh-item slot: the last 14 days of arrivals.
                            let lo = created.partition_point(|&t| t < ts - 14 * DAY as i64).min(eligible - 1);
                            lo + r.below(eligible - lo)
                        } else {
                            r.below(eligible)
                        }
                    };
                    let Some(item) = (0..8).map(|_| pick()).find(|i| !shown.contains(i)) else { continue };
                    shown.insert(item);
                    let it = &items[item];
                    let cos: f64 = pref.iter().zip(&it.latent).map(|(x, y)| x * y).sum();
                    let logit = c.affinity * cos + c.quality_weight * it.quality + c.bias;
                    let click = r.bernoulli(1.0 / (1.0 + (-logit).exp()));
                    out.push(WorldEvent { user: u, item, ts, click });
                }
                out
            })
            .collect();
        let events = events.into_iter().flatten().collect();
        let searches = search_sessions(c, &items, &created, &by_topic, n_users);
        Ok(World { config: c.clone(), items, events, searches })
    }

    /// Number of search sessions.
    pub fn n_searches(&self) -> usize {
        self.searches.len()
    }

    /// Number of clicked impressions.
    pub fn n_clicks(&self) -> usize {
        self.events.iter().filter(|e| e.click).count()
    }

    /// Writes `items.tsv`, `interactions.tsv`, `searches.tsv`, `images/i<N>.png`, `truth.tsv`
    /// (hidden topic and quality, for analysis only; loaders ignore it) and `world.json`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        self.write_as(dir, TableFormat::Tsv, true)
    }

    /// [`Self::write`] in `format`; `images = false` leaves out the image files (items then have
    /// no `image` column), for large worlds written to measure loading.
    pub fn write_as(&self, dir: &Path, format: TableFormat, images: bool) -> Result<()> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| Error::io(p.clone(), e)
        };
        std::fs::create_dir_all(dir.join("images")).map_err(io(dir))?;
        let mut truth = String::from("item\tprimary_topic\tsecondary_topic\tquality\n");
        for (i, it) in self.items.iter().enumerate() {
            let _ = writeln!(truth, "i{i}\t{}\t{}\t{:.4}", TOPICS[it.primary].0, TOPICS[it.secondary].0, it.quality);
        }
        std::fs::write(dir.join("truth.tsv"), truth).map_err(io(&dir.join("truth.tsv")))?;
        match format {
            TableFormat::Tsv => self.write_tsv(dir, images)?,
            #[cfg(feature = "parquet")]
            TableFormat::Parquet => self.write_parquet(dir, images)?,
        }
        if images {
            let bar = progress(self.items.len() as u64, "drawing item images");
            let size = self.config.image_size;
            self.items.par_iter().enumerate().try_for_each(|(i, it)| {
                let sketch = Sketch {
                    primary: it.primary,
                    secondary: it.secondary,
                    n_topics: TOPICS.len(),
                    seed: self.config.seed ^ (i as u64) << 20,
                };
                let p = dir.join(format!("images/i{i}.png"));
                draw(&sketch, size).save(&p).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
                bar.inc(1);
                Ok::<_, Error>(())
            })?;
            bar.finish_and_clear();
        }
        let json = serde_json::to_string_pretty(&self.config).expect("config serialises");
        std::fs::write(dir.join("world.json"), json).map_err(io(&dir.join("world.json")))
    }

    fn write_tsv(&self, dir: &Path, images: bool) -> Result<()> {
        let mut items = String::from(if images { "item\ttitle\ttags\timage\tcreated_at\n" } else { "item\ttitle\ttags\tcreated_at\n" });
        for (i, it) in self.items.iter().enumerate() {
            let image = if images { format!("\timages/i{i}.png") } else { String::new() };
            let _ = writeln!(items, "i{i}\t{}\t{}{image}\t{}", it.title, it.tags.join("|"), it.created_at);
        }
        let mut inter = String::with_capacity(self.events.len() * 24);
        inter.push_str("user\titem\ttimestamp\tlabel\n");
        for e in &self.events {
            let _ = writeln!(inter, "u{}\ti{}\t{}\t{}", e.user, e.item, e.ts, e.click as u8);
        }
        let mut searches = String::from("user\ttimestamp\tquery\tbought\tclicked\n");
        for q in &self.searches {
            let clicked: Vec<String> = q.clicked.iter().map(|i| format!("i{i}")).collect();
            let _ = writeln!(searches, "u{}\t{}\t{}\ti{}\t{}", q.user, q.ts, q.query, q.bought, clicked.join("|"));
        }
        for (name, text) in [("items.tsv", &items), ("interactions.tsv", &inter), ("searches.tsv", &searches)] {
            std::fs::write(dir.join(name), text).map_err(|e| Error::io(dir.join(name), e))?;
        }
        Ok(())
    }

    /// The same tables as Parquet; interactions in chunks of a million rows (row groups of
    /// that size), so writing never holds the whole log as text.
    #[cfg(feature = "parquet")]
    fn write_parquet(&self, dir: &Path, images: bool) -> Result<()> {
        use crate::columnar::{OutColumn, TableWriter, write_table};
        const GROUP: usize = 1 << 20;
        let n = self.items.len();
        let mut items = vec![
            OutColumn::Text("item".into(), (0..n).map(|i| format!("i{i}")).collect()),
            OutColumn::Text("title".into(), self.items.iter().map(|it| it.title.clone()).collect()),
            OutColumn::Text("tags".into(), self.items.iter().map(|it| it.tags.join("|")).collect()),
        ];
        if images {
            items.push(OutColumn::Text("image".into(), (0..n).map(|i| format!("images/i{i}.png")).collect()));
        }
        items.push(OutColumn::Int("created_at".into(), self.items.iter().map(|it| it.created_at).collect()));
        write_table(&dir.join("items.parquet"), items, GROUP)?;
        let mut w = TableWriter::create(&dir.join("interactions.parquet"), GROUP)?;
        let bar = progress(self.events.len() as u64, "writing interactions.parquet");
        for chunk in self.events.chunks(GROUP) {
            w.write(vec![
                OutColumn::Text("user".into(), chunk.iter().map(|e| format!("u{}", e.user)).collect()),
                OutColumn::Text("item".into(), chunk.iter().map(|e| format!("i{}", e.item)).collect()),
                OutColumn::Int("timestamp".into(), chunk.iter().map(|e| e.ts).collect()),
                OutColumn::Int("label".into(), chunk.iter().map(|e| e.click as i64).collect()),
            ])?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        w.finish()?;
        let s = &self.searches;
        let clicked = |q: &WorldSearch| q.clicked.iter().map(|i| format!("i{i}")).collect::<Vec<_>>().join("|");
        write_table(
            &dir.join("searches.parquet"),
            vec![
                OutColumn::Text("user".into(), s.iter().map(|q| format!("u{}", q.user)).collect()),
                OutColumn::Int("timestamp".into(), s.iter().map(|q| q.ts).collect()),
                OutColumn::Text("query".into(), s.iter().map(|q| q.query.clone()).collect()),
                OutColumn::Text("bought".into(), s.iter().map(|q| format!("i{}", q.bought)).collect()),
                OutColumn::Text("clicked".into(), s.iter().map(clicked).collect()),
            ],
            GROUP,
        )
    }
}

/// File format of a written dataset's tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableFormat {
    /// Tab-separated text.
    #[default]
    Tsv,
    /// Parquet (with the `parquet` feature).
    #[cfg(feature = "parquet")]
    Parquet,
}

impl std::str::FromStr for TableFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tsv" => Ok(TableFormat::Tsv),
            #[cfg(feature = "parquet")]
            "parquet" => Ok(TableFormat::Parquet),
            other => Err(Error::Config(format!("unknown table format `{other}` (tsv or parquet)"))),
        }
    }
}

/// Search sessions, each from its own seeded stream (so adding them changed nothing else). A user
/// searches with an intent (a main topic and a nuance topic); the query is 2–4 words in the
/// searchers' vocabulary ([`QUERY_WORDS`]: never in titles) of the main topic, some of the
/// nuance's, some filler — so word overlap with titles says (almost) nothing; meaning does. The engine shows up to 20 items of the
/// main topic; the user buys the best match to the intent (latent cosine, quality, noise) and has
/// clicked 1–3 of the runners-up (hard negatives: same topic, wrong nuance).
fn search_sessions(c: &WorldConfig, items: &[WorldItem], created: &[i64], by_topic: &[Vec<usize>], n_users: usize) -> Vec<WorldSearch> {
    let k = TOPICS.len();
    let horizon = (c.horizon_days * DAY) as i64;
    (0..n_users)
        .into_par_iter()
        .map(|u| {
            let mut r = Rng::derive(c.seed, 5_000_000 + u as u64);
            let n = (c.searches_per_user * (0.5 + r.uniform())).round() as usize;
            let mut out = Vec::new();
            for _ in 0..n {
                let ts = T0 + (r.uniform() * horizon as f64) as i64;
                let eligible = created.partition_point(|&t| t <= ts);
                let (main, nuance) = (r.below(k), r.below(k));
                let mut intent = vec![0.0; k];
                intent[main] += 1.0;
                intent[nuance] += 0.5;
                normalize(&mut intent);
                let shown: Vec<usize> = by_topic[main].iter().copied().filter(|&i| i < eligible).collect();
                if shown.len() < 2 {
                    continue;
                }
                let mut results: Vec<usize> = (0..20.min(shown.len())).map(|_| shown[r.below(shown.len())]).collect();
                results.sort_unstable();
                results.dedup();
                let mut scored: Vec<(f64, usize)> = results
                    .into_iter()
                    .map(|i| {
                        let cos: f64 = intent.iter().zip(&items[i].latent).map(|(a, b)| a * b).sum();
                        (4.0 * cos + 0.3 * items[i].quality + 0.3 * r.normal(), i)
                    })
                    .collect();
                if scored.len() < 2 {
                    continue;
                }
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let n_words = 2 + r.below(3);
                let words: Vec<&str> = (0..n_words)
                    .map(|_| {
                        let x = r.uniform();
                        let vocab = if x < 0.6 {
                            &QUERY_WORDS[main][..]
                        } else if x < 0.85 {
                            &QUERY_WORDS[nuance][..]
                        } else {
                            FILLER
                        };
                        vocab[r.below(vocab.len())]
                    })
                    .collect();
                let clicked = scored[1..].iter().take(1 + r.below(3)).map(|s| s.1).collect();
                out.push(WorldSearch { user: u, ts, query: words.join(" "), bought: scored[0].1, clicked });
            }
            out
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect()
}

/// Generates the world into `dir` unless `dir/world.json` already records the same config (the
/// world is a pure function of it). Returns whether it generated.
pub fn ensure_world(config: &WorldConfig, dir: &Path) -> Result<bool> {
    let marker = dir.join("world.json");
    // A world cached before search sessions existed lacks `searches.tsv`: regenerate (the rest of
    // the world comes out identical, it draws from separate streams).
    if let Ok(text) = std::fs::read_to_string(&marker)
        && serde_json::from_str::<WorldConfig>(&text).ok().as_ref() == Some(config)
        && dir.join("searches.tsv").is_file()
    {
        return Ok(false);
    }
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    World::generate(config)?.write(&tmp)?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    Ok(true)
}
