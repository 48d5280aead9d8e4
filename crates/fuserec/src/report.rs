//! Turning [`ExperimentResults`] into the printed table, `results.json`, `report.md` and SVG plots.

use crate::experiment::{ExperimentResults, SEGMENTS};
use fuserec_core::{Error, Result};
use fuserec_eval::{markdown_table, svg};
use std::path::Path;

/// Mean and sample standard deviation across seeds.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcrossSeeds {
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation over seeds (0 for one seed).
    pub std: f64,
    /// Averages of the per-seed bootstrap CI bounds.
    pub lo: f64,
    /// Averaged upper CI bound.
    pub hi: f64,
}

fn across(vals: &[(f64, f64, f64)]) -> AcrossSeeds {
    let n = vals.len() as f64;
    if vals.is_empty() {
        return AcrossSeeds { mean: f64::NAN, std: f64::NAN, lo: f64::NAN, hi: f64::NAN };
    }
    let mean = vals.iter().map(|v| v.0).sum::<f64>() / n;
    let std = if vals.len() > 1 { (vals.iter().map(|v| (v.0 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    AcrossSeeds { mean, std, lo: vals.iter().map(|v| v.1).sum::<f64>() / n, hi: vals.iter().map(|v| v.2).sum::<f64>() / n }
}

impl ExperimentResults {
    /// `(model index, display name)` in config order; a name used by two configs gets `#index`.
    pub fn models(&self) -> Vec<(usize, String)> {
        let mut names: Vec<(usize, String)> = self.runs.iter().map(|r| (r.model_index, r.model.clone())).collect();
        names.sort();
        names.dedup();
        let dup = |n: &str| names.iter().filter(|x| x.1 == n).count() > 1;
        names.iter().map(|(i, n)| (*i, if dup(n) { format!("{n} #{}", i + 1) } else { n.clone() })).collect()
    }

    /// A metric (e.g. `recall@20`, or `coverage@20` / `cold_share@20` / `gini@20`) of one model
    /// and segment, across seeds.
    pub fn stat(&self, model: usize, segment: &str, metric: &str) -> AcrossSeeds {
        let vals: Vec<(f64, f64, f64)> = self
            .runs
            .iter()
            .filter(|r| r.model_index == model)
            .filter_map(|r| r.segments.iter().find(|s| s.segment == segment))
            .filter_map(|s| {
                let (name, k) = metric.split_once('@')?;
                let key = format!("@{k}");
                match name {
                    "coverage" => s.coverage.get(&key).map(|&v| (v, v, v)),
                    "cold_share" => s.cold_share.get(&key).map(|&v| (v, v, v)),
                    "gini" => s.exposure_gini.get(&key).map(|&v| (v, v, v)),
                    _ => s.metrics.get(metric).map(|e| (e.mean, e.lo, e.hi)),
                }
            })
            .collect();
        across(&vals)
    }

    fn headline_columns(&self) -> Vec<String> {
        let k = self.config.k[0];
        ["recall", "ndcg", "hit", "precision", "mrr", "coverage", "cold_share", "gini"].iter().map(|m| format!("{m}@{k}")).collect()
    }

    /// The headline table: one row per model × segment, mean ± std over seeds.
    pub fn table(&self) -> String {
        let cols = self.headline_columns();
        let mut headers = vec!["model", "segment", "users"];
        headers.extend(cols.iter().map(String::as_str));
        let multi = self.config.seeds.len() > 1;
        let mut rows = Vec::new();
        for (mi, m) in self.models() {
            for seg in SEGMENTS {
                let users = self
                    .runs
                    .iter()
                    .find(|r| r.model_index == mi)
                    .and_then(|r| r.segments.iter().find(|s| s.segment == seg))
                    .map_or(0, |s| s.users);
                let mut row = vec![m.clone(), seg.to_string(), users.to_string()];
                for c in &cols {
                    let s = self.stat(mi, seg, c);
                    row.push(match (s.mean.is_finite(), multi) {
                        (false, _) => "–".to_string(),
                        (true, true) => format!("{:.4} ± {:.4}", s.mean, s.std),
                        (true, false) => format!("{:.4}", s.mean),
                    });
                }
                rows.push(row);
            }
        }
        markdown_table(&headers, &rows)
    }

    /// Mean over seeds of a model's OVERALL recall in popularity bucket `j` (`None`: no seed
    /// had a relevant pair there).
    fn bucket_recall(&self, model: usize, j: usize) -> Option<f64> {
        let v: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.model_index == model)
            .map(|r| r.segments[0].buckets[j].recall)
            .filter(|v| v.is_finite())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    fn bucket_table(&self) -> String {
        let Some(first) = self.runs.first() else {
            return String::new();
        };
        let labels: Vec<String> = first.segments[0].buckets.iter().map(|b| b.label.clone()).collect();
        let mut headers = vec!["model".to_string()];
        headers.extend(labels.iter().map(|l| format!("pop {l}")));
        let mut rows = Vec::new();
        let mut rel_row = vec!["(relevant pairs, seed 1)".to_string()];
        rel_row.extend(first.segments[0].buckets.iter().map(|b| b.relevant.to_string()));
        for (mi, m) in self.models() {
            let mut row = vec![m.clone()];
            for j in 0..labels.len() {
                row.push(self.bucket_recall(mi, j).map_or("–".into(), |v| format!("{v:.4}")));
            }
            rows.push(row);
        }
        rows.push(rel_row);
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        markdown_table(&h, &rows)
    }

    fn per_seed_table(&self) -> String {
        let k = self.config.k[0];
        let mut rows = Vec::new();
        for r in &self.runs {
            for s in &r.segments {
                let e = &s.metrics[&format!("recall@{k}")];
                let n = &s.metrics[&format!("ndcg@{k}")];
                rows.push(vec![
                    r.model.clone(),
                    r.seed.to_string(),
                    s.segment.clone(),
                    format!("{:.4} [{:.4}, {:.4}]", e.mean, e.lo, e.hi),
                    format!("{:.4} [{:.4}, {:.4}]", n.mean, n.lo, n.hi),
                    format!("{:.2}", r.fit_seconds),
                    format!("{:.2}", r.rank_seconds),
                ]);
            }
        }
        markdown_table(
            &["model", "seed", "segment", &format!("recall@{k} [95% CI]"), &format!("ndcg@{k} [95% CI]"), "fit s", "rank s"],
            &rows,
        )
    }

    fn bar_svg(&self, metric: &str) -> String {
        let groups: Vec<String> = SEGMENTS.iter().map(|s| s.to_string()).collect();
        let series: Vec<svg::Series> = self
            .models()
            .into_iter()
            .map(|(mi, m)| {
                let st: Vec<_> = SEGMENTS.iter().map(|s| self.stat(mi, s, metric)).collect();
                svg::Series {
                    name: m,
                    values: st.iter().map(|s| s.mean).collect(),
                    intervals: Some(st.iter().map(|s| (s.lo, s.hi)).collect()),
                }
            })
            .collect();
        svg::bar_chart(&format!("{} — {metric} (bars: bootstrap 95% CI)", self.name), metric, &groups, &series)
    }

    fn bucket_svg(&self) -> String {
        let Some(first) = self.runs.first() else {
            return String::new();
        };
        let labels: Vec<String> = first.segments[0].buckets.iter().map(|b| format!("pop {}", b.label)).collect();
        let series: Vec<svg::Series> = self
            .models()
            .into_iter()
            .map(|(mi, m)| {
                let values = (0..labels.len()).map(|j| self.bucket_recall(mi, j).unwrap_or(f64::NAN)).collect();
                svg::Series { name: m, values, intervals: None }
            })
            .collect();
        let k = self.config.k[0];
        svg::line_chart(
            &format!("{} — recall@{k} by item popularity (train positives)", self.name),
            &format!("recall@{k}"),
            &labels,
            &series,
        )
    }

    /// The experiment's Markdown report: setup, tables per segment, charts, training notes.
    pub fn report_markdown(&self) -> String {
        let k = self.config.k[0];
        let d = &self.dataset;
        let mut s = format!("# {}\n\n{}\n\n", self.name, self.config.description);
        s += &format!(
            "- dataset: {} — {} users, {} items, {} interactions ({} positive)\n",
            d.name, d.users, d.items, d.interactions, d.positives
        );
        s += &format!("- load report: {}\n", d.load_report);
        s += &format!(
            "- seeds: {:?}; split hashes: {}\n",
            self.config.seeds,
            self.splits.iter().map(|x| format!("{}={}", x.seed, x.hash)).collect::<Vec<_>>().join(", ")
        );
        if let Some(sp) = self.splits.first() {
            s += &format!(
                "- protocol: {} (seed {}: train {}, val {}, test warm {}, test cold {}, cold items {})\n",
                sp.protocol, sp.seed, sp.train, sp.val, sp.test_warm, sp.test_cold, sp.cold_items
            );
        }
        for f in &self.features {
            let mods: Vec<String> =
                f.modalities.iter().map(|m| format!("{} `{}` ({}-d, {} items)", m.name, m.backbone, m.dim, m.items)).collect();
            s += &format!(
                "- features `{}`: hash {} — {}; images: {} no image, {} missing, {} corrupt (masked); {:.1}s\n",
                f.set,
                f.hash,
                mods.join(", "),
                f.image_report.no_image,
                f.image_report.missing,
                f.image_report.corrupt,
                f.seconds
            );
        }
        s += &format!("- git {}; started {}; {:.1}s in all\n\n", self.git_revision, self.started_at, self.total_seconds);
        s += &format!(
            "## Headline (K = {k}; mean ± std over seeds)\n\nOVERALL ranks all items, WARM only warm items, COLD only cold items; each user's train+val positives are masked.\n\n{}\n",
            self.table()
        );
        s += "![recall](recall.svg)\n\n![ndcg](ndcg.svg)\n\n";
        s += &format!("## Recall@{k} by item popularity (OVERALL)\n\n{}\n![buckets](recall_by_popularity.svg)\n\n", self.bucket_table());
        if let Some(t) = self.training_table() {
            s += &format!("## Training (mean over seeds)\n\n{t}\n");
        }
        if self.gate_curve().is_some() {
            s += "## Learned gate against item exposure\n\nMean gate value (weight of the content view) over items binned by exposures at evaluation time; `0 (cold)` are the cold items.\n\n![gate](gate_by_exposure.svg)\n\n";
        }
        if let Some((t, _)) = self.cluster_sweep() {
            s += &format!("## Cluster-id content models against the id model\n\n{t}\n![sweep](cluster_sweep.svg)\n\n");
        }
        if let Some(t) = self.search_tables() {
            s += &format!(
                "## Hyper-parameter search (validation only)\n\nEvery trial fit on train and scored on validation (selection: {:?}; recall@20 per segment, COLD = cold validation items); the pick (✓) was evaluated once on test.\n\n{t}\n![trials](search_trials.svg)\n\n",
                self.config.selection
            );
        }
        s += &format!("## Per seed, with bootstrap 95% CIs over users\n\n{}\n", self.per_seed_table());
        s
    }

    /// One table per searched model and seed: trial parameters, validation scores, the pick.
    pub fn search_tables(&self) -> Option<String> {
        let f = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.4}"));
        let mut out = String::new();
        for r in self.runs.iter() {
            let Some(log) = &r.search else { continue };
            out += &format!("**{}**, seed {}\n\n", r.model, r.seed);
            let rows: Vec<Vec<String>> = log
                .trials
                .iter()
                .enumerate()
                .map(|(n, t)| {
                    let params = t.params.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ");
                    vec![
                        format!("{}{}", n + 1, if n == log.pick { " ✓" } else { "" }),
                        params,
                        f(t.val.overall),
                        f(t.val.warm),
                        f(t.val.cold),
                        format!("{:.4}", t.selection),
                        format!("{:.1}", t.fit_seconds),
                    ]
                })
                .collect();
            out += &markdown_table(&["trial", "parameters", "val OVERALL", "val WARM", "val COLD", "selection", "fit s"], &rows);
            out += "\n";
        }
        (!out.is_empty()).then_some(out)
    }

    /// Validation selection score of every trial, sorted best first, one line per searched model
    /// (first seed): how much the budget mattered and how flat the top is.
    pub fn search_chart(&self) -> Option<String> {
        let seed = *self.config.seeds.first()?;
        let mut series = Vec::new();
        let mut longest = 0;
        for r in self.runs.iter().filter(|r| r.seed == seed) {
            let Some(log) = &r.search else { continue };
            let mut v: Vec<f64> = log.trials.iter().map(|t| t.selection).collect();
            v.sort_by(|a, b| b.total_cmp(a));
            longest = longest.max(v.len());
            series.push(svg::Series { name: r.model.clone(), values: v, intervals: None });
        }
        if series.is_empty() {
            return None;
        }
        for s in &mut series {
            s.values.resize(longest, f64::NAN);
        }
        let xs: Vec<String> = (1..=longest).map(|i| i.to_string()).collect();
        Some(svg::line_chart_fitted(
            &format!("{} — search trials, best first (seed {seed})", self.name),
            "validation selection score",
            &xs,
            &series,
        ))
    }

    /// Per trained model: `(name, [per-seed training log])`.
    fn training_logs(&self) -> Vec<(usize, String, Vec<&serde_json::Value>)> {
        self.models()
            .into_iter()
            .filter_map(|(i, name)| {
                let logs: Vec<&serde_json::Value> = self
                    .runs
                    .iter()
                    .filter(|r| r.model_index == i)
                    .filter_map(|r| r.training.as_ref())
                    .filter(|l| l.get("epochs").is_some())
                    .collect();
                (!logs.is_empty()).then_some((i, name, logs))
            })
            .collect()
    }

    /// Training summary: epochs run, best epoch, losses, validation recall, speed (mean over seeds).
    pub fn training_table(&self) -> Option<String> {
        let logs = self.training_logs();
        if logs.is_empty() {
            return None;
        }
        let mean = |xs: Vec<f64>| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        let rows: Vec<Vec<String>> = logs
            .iter()
            .map(|(_, name, ls)| {
                let epochs = |l: &serde_json::Value| l["epochs"].as_array().cloned().unwrap_or_default();
                let last = |l: &serde_json::Value, k: &str| epochs(l).last().and_then(|e| e["train"][k].as_f64()).unwrap_or(f64::NAN);
                let min_val = |l: &serde_json::Value| epochs(l).iter().filter_map(|e| e["val_loss"].as_f64()).fold(f64::INFINITY, f64::min);
                let best = |l: &serde_json::Value| l["best_epoch"].as_f64().unwrap_or(f64::NAN);
                let best_recall =
                    |l: &serde_json::Value| epochs(l).iter().filter_map(|e| e["val_recall_at_20"].as_f64()).fold(0.0, f64::max);
                let speed = |l: &serde_json::Value| mean(epochs(l).iter().filter_map(|e| e["examples_per_second"].as_f64()).collect());
                vec![
                    name.clone(),
                    format!("{:.1}", mean(ls.iter().map(|l| epochs(l).len() as f64).collect())),
                    format!("{:.1}", mean(ls.iter().map(|l| best(l)).collect())),
                    format!("{:.3}", mean(ls.iter().map(|l| last(l, "fused")).collect())),
                    format!("{:.3}", mean(ls.iter().map(|l| min_val(l)).collect())),
                    format!("{:.4}", mean(ls.iter().map(|l| best_recall(l)).collect())),
                    format!("{:.0}", mean(ls.iter().map(|l| speed(l)).collect())),
                ]
            })
            .collect();
        Some(markdown_table(
            &[
                "model",
                "epochs run",
                "best epoch",
                "final train loss (fused view)",
                "lowest val loss",
                "best val recall@20",
                "train examples/s",
            ],
            &rows,
        ))
    }

    /// Mean learned gate against item exposure (evaluation-time statistics), one line per gated
    /// model, averaged over seeds.
    pub fn gate_curve(&self) -> Option<(Vec<String>, Vec<svg::Series>)> {
        let mut labels: Vec<(f64, f64)> = Vec::new();
        let mut per_model: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for (_, name, ls) in self.training_logs() {
            let pts: Vec<(f64, f64)> = ls
                .iter()
                .flat_map(|l| l["gate_by_exposure"].as_array().cloned().unwrap_or_default())
                .filter_map(|b| Some((b["exposures_lo"].as_f64()?, b["mean_gate"].as_f64()?)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            for b in pts.iter().map(|p| p.0) {
                if !labels.iter().any(|l| l.0 == b) {
                    labels.push((b, if b == 0.0 { 1.0 } else { 2.0 * b }));
                }
            }
            per_model.push((name, pts));
        }
        if per_model.is_empty() {
            return None;
        }
        labels.sort_by(|a, b| a.0.total_cmp(&b.0));
        let series = per_model
            .into_iter()
            .map(|(name, pts)| {
                let values = labels
                    .iter()
                    .map(|l| {
                        let v: Vec<f64> = pts.iter().filter(|p| p.0 == l.0).map(|p| p.1).collect();
                        if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
                    })
                    .collect();
                svg::Series { name, values, intervals: None }
            })
            .collect();
        // Bins are [lo, 2·lo); the label is the lower edge.
        let xs = labels.iter().map(|l| if l.0 == 0.0 { "0 (cold)".to_string() } else { format!("≥{}", l.0) }).collect();
        Some((xs, series))
    }

    /// Cluster-id content models against the id model: final training loss and lowest
    /// validation loss by cluster count (the finest level the model sees).
    pub fn cluster_sweep(&self) -> Option<(String, String)> {
        let logs = self.training_logs();
        let epochs = |l: &serde_json::Value| l["epochs"].as_array().cloned().unwrap_or_default();
        let mean = |xs: Vec<f64>| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        let train = |ls: &[&serde_json::Value]| {
            mean(ls.iter().map(|l| epochs(l).last().and_then(|e| e["train"]["fused"].as_f64()).unwrap_or(f64::NAN)).collect())
        };
        let val = |ls: &[&serde_json::Value]| {
            mean(ls.iter().map(|l| epochs(l).iter().filter_map(|e| e["val_loss"].as_f64()).fold(f64::INFINITY, f64::min)).collect())
        };
        let mut sweep: Vec<(usize, String, f64, f64)> = Vec::new();
        let mut id_ref: Option<(f64, f64)> = None;
        for (_, name, ls) in &logs {
            let counts: Vec<usize> = ls[0]["cluster_counts"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_u64().map(|x| x as usize)).collect())
                .unwrap_or_default();
            if name.contains("id-only") {
                id_ref = Some((train(ls), val(ls)));
            } else if name.contains(" only]") && !counts.is_empty() {
                sweep.push((*counts.iter().max().expect("non-empty"), name.clone(), train(ls), val(ls)));
            }
        }
        if sweep.is_empty() {
            return None;
        }
        sweep.sort_by_key(|s| s.0);
        let mut rows: Vec<Vec<String>> =
            sweep.iter().map(|s| vec![s.1.clone(), s.0.to_string(), format!("{:.3}", s.2), format!("{:.3}", s.3)]).collect();
        if let Some((t, v)) = id_ref {
            rows.push(vec!["id-only (reference)".into(), "one per item".into(), format!("{t:.3}"), format!("{v:.3}")]);
        }
        let table = markdown_table(&["model", "clusters (finest level seen)", "final train loss", "lowest val loss"], &rows);
        let xs: Vec<String> = sweep.iter().map(|s| s.0.to_string()).collect();
        let mut series = vec![
            svg::Series { name: "content (cluster id) — train".into(), values: sweep.iter().map(|s| s.2).collect(), intervals: None },
            svg::Series { name: "content (cluster id) — val".into(), values: sweep.iter().map(|s| s.3).collect(), intervals: None },
        ];
        if let Some((t, v)) = id_ref {
            series.push(svg::Series { name: "id model — train".into(), values: vec![t; xs.len()], intervals: None });
            series.push(svg::Series { name: "id model — val".into(), values: vec![v; xs.len()], intervals: None });
        }
        let chart = svg::line_chart(&format!("{} — sampled-softmax loss by cluster count", self.name), "loss", &xs, &series);
        Some((table, chart))
    }

    /// One row per model × seed × segment × metric (`recall@20` → metric `recall`, k 20), with
    /// the bootstrap CI where there is one: the flat form of `results.json` for pandas,
    /// spreadsheets and SQL.
    pub fn metrics_csv(&self) -> String {
        use std::fmt::Write;
        let mut out = String::from("model,model_index,seed,segment,users,metric,k,value,ci_lo,ci_hi\n");
        let split = |name: &str| -> (String, String) {
            match name.rsplit_once('@') {
                Some((m, k)) => (m.to_string(), k.to_string()),
                None => (name.to_string(), String::new()),
            }
        };
        for r in &self.runs {
            let model = csv_field(&r.model);
            for sg in &r.segments {
                let mut row = |metric: &str, k: &str, v: f64, ci: Option<(f64, f64)>| {
                    let (lo, hi) = ci.map_or((String::new(), String::new()), |(l, h)| (l.to_string(), h.to_string()));
                    let _ = writeln!(out, "{model},{},{},{},{},{metric},{k},{v},{lo},{hi}", r.model_index, r.seed, sg.segment, sg.users);
                };
                for (name, e) in &sg.metrics {
                    let (m, k) = split(name);
                    row(&m, &k, e.mean, Some((e.lo, e.hi)));
                }
                for (metric, map) in [("coverage", &sg.coverage), ("cold_share", &sg.cold_share), ("gini", &sg.exposure_gini)] {
                    for (at, v) in map {
                        row(metric, at.trim_start_matches('@'), *v, None);
                    }
                }
            }
        }
        out
    }

    /// Writes `results.json`, `report.md`, `metrics.csv` and the SVG plots into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let k = self.config.k[0];
        let files = [
            ("results.json", serde_json::to_string_pretty(self).map_err(|e| Error::Invalid(e.to_string()))?),
            ("report.md", self.report_markdown()),
            ("metrics.csv", self.metrics_csv()),
            ("recall.svg", self.bar_svg(&format!("recall@{k}"))),
            ("ndcg.svg", self.bar_svg(&format!("ndcg@{k}"))),
            ("recall_by_popularity.svg", self.bucket_svg()),
        ];
        let mut files: Vec<(&str, String)> = files.into_iter().collect();
        if let Some((xs, series)) = self.gate_curve() {
            files.push((
                "gate_by_exposure.svg",
                svg::line_chart(&format!("{} — learned gate vs item exposures (bins [x, 2x))", self.name), "mean gate g", &xs, &series),
            ));
        }
        if let Some((_, chart)) = self.cluster_sweep() {
            files.push(("cluster_sweep.svg", chart));
        }
        if let Some(chart) = self.search_chart() {
            files.push(("search_trials.svg", chart));
        }
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}
