//! Tables and charts of a CTR run: gains are paired per seed against that seed's DIN (the seeds
//! share the split, so the pairing removes the split's variance from the comparison).

use super::run::{CtrResults, CtrRow};
use fuserec_core::{Error, Result};
use fuserec_eval::{markdown_table, svg};
use std::path::Path;

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 { (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    (m, sd)
}

fn pm(v: &[f64], scale: f64, p: usize) -> String {
    if v.is_empty() {
        return "–".into();
    }
    let (m, sd) = mean_sd(v);
    if v.len() > 1 { format!("{:.p$} ± {:.p$}", m * scale, sd * scale) } else { format!("{:.p$}", m * scale) }
}

impl CtrResults {
    /// Model names in table order.
    pub fn models(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.model) {
                out.push(r.model.clone());
            }
        }
        out
    }

    fn rows_of(&self, model: &str) -> Vec<&CtrRow> {
        self.rows.iter().filter(|r| r.model == model).collect()
    }

    fn din_of(&self, seed: u64) -> Option<&CtrRow> {
        self.rows.iter().find(|r| r.seed == seed && r.model == "din")
    }

    /// Per seed `f(row, din row of that seed)`.
    fn paired(&self, model: &str, f: &dyn Fn(&CtrRow, &CtrRow) -> Option<f64>) -> Vec<f64> {
        self.rows_of(model).into_iter().filter_map(|r| self.din_of(r.seed).and_then(|d| f(r, d))).filter(|x| x.is_finite()).collect()
    }

    /// The main Markdown table: AUC, GAUC and log loss per model, mean ± std over seeds.
    pub fn table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .models()
            .iter()
            .map(|m| {
                let rs = self.rows_of(m);
                let col = |f: &dyn Fn(&CtrRow) -> f64| rs.iter().map(|r| f(r)).collect::<Vec<f64>>();
                vec![
                    m.clone(),
                    pm(&col(&|r| r.scores.auc), 1.0, 4),
                    pm(&col(&|r| r.scores.gauc), 1.0, 4),
                    pm(&self.paired(m, &|r, d| Some(r.scores.auc - d.scores.auc)), 100.0, 2),
                    pm(&self.paired(m, &|r, d| Some(r.scores.gauc - d.scores.gauc)), 100.0, 2),
                    pm(&self.paired(m, &|r, d| Some(r.scores.gauc / d.scores.gauc - 1.0)), 100.0, 2),
                    pm(&self.paired(m, &|r, d| Some((r.scores.gauc - 0.5) / (d.scores.gauc - 0.5) - 1.0)), 100.0, 1),
                    pm(&col(&|r| r.scores.logloss), 1.0, 4),
                    pm(&col(&|r| r.examples_per_second), 1.0, 0),
                ]
            })
            .collect();
        markdown_table(
            &[
                "model",
                "AUC",
                "GAUC",
                "ΔAUC vs DIN (pts)",
                "ΔGAUC vs DIN (pts)",
                "GAUC gain %",
                "GAUC RelaImpr %",
                "logloss",
                "train examples/s",
            ],
            &rows,
        )
    }

    fn short_buckets(&self) -> Vec<String> {
        self.data
            .as_ref()
            .map(|d| d.bucket_labels.iter().map(|l| l.split(' ').next().unwrap_or(l).to_string()).collect())
            .unwrap_or_default()
    }

    /// GAUC per item-frequency bucket (mean over seeds) with the paired gain over DIN.
    pub fn bucket_table(&self) -> String {
        let Some(d) = &self.data else { return String::new() };
        let models = self.models();
        let mut headers = vec!["training impressions of the item".to_string(), "test impressions".to_string()];
        headers.extend(models.iter().cloned());
        let rows: Vec<Vec<String>> = (0..d.bucket_labels.len())
            .map(|b| {
                let mut row = vec![d.bucket_labels[b].clone(), d.bucket_test_impressions[b].to_string()];
                for m in &models {
                    let g: Vec<f64> = self.rows_of(m).iter().filter_map(|r| r.scores.buckets[b]).collect();
                    let cell = if g.is_empty() {
                        "–".to_string()
                    } else if m == "din" {
                        format!("{:.4}", mean_sd(&g).0)
                    } else {
                        let gain = self.paired(m, &|r, dr| Some(r.scores.buckets[b]? - dr.scores.buckets[b]?));
                        format!("{:.4} ({:+.2})", mean_sd(&g).0, if gain.is_empty() { f64::NAN } else { 100.0 * mean_sd(&gain).0 })
                    };
                    row.push(cell);
                }
                row
            })
            .collect();
        let h: Vec<&str> = headers.iter().map(|s| s.as_str()).collect();
        markdown_table(&h, &rows)
    }

    fn curve(&self, name: &str) -> Vec<(usize, Vec<f64>)> {
        let mut by: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
        self.curves.iter().filter(|c| c.curve == name).for_each(|c| by.entry(c.epochs).or_default().push(c.gauc));
        by.into_iter().collect()
    }

    /// The epoch curves as a Markdown table.
    pub fn curve_table(&self) -> String {
        let names = ["DIN (id only)", "MAKE alone", "DIN + MAKE (joint)"];
        let mut epochs: Vec<usize> = self.curves.iter().map(|c| c.epochs).collect();
        epochs.sort();
        epochs.dedup();
        let rows: Vec<Vec<String>> = epochs
            .iter()
            .map(|&e| {
                let mut row = vec![e.to_string()];
                for n in names {
                    row.push(self.curve(n).into_iter().find(|c| c.0 == e).map_or("–".into(), |c| pm(&c.1, 1.0, 4)));
                }
                row
            })
            .collect();
        markdown_table(
            &[
                "epochs",
                "DIN GAUC after this many epochs",
                "MAKE alone GAUC after this many pre-training epochs",
                "DIN + MAKE GAUC (MAKE pre-trained this many epochs, then one joint epoch)",
            ],
            &rows,
        )
    }

    /// SVG bars of each model's AUC gain over DIN per item-frequency bucket.
    pub fn gain_chart(&self) -> String {
        let xs = self.short_buckets();
        let series: Vec<svg::Series> = self
            .models()
            .iter()
            .filter(|m| *m != "din")
            .map(|m| svg::Series {
                name: m.clone(),
                values: (0..xs.len())
                    .map(|b| {
                        let g = self.paired(m, &|r, d| Some(r.scores.buckets[b]? - d.scores.buckets[b]?));
                        if g.is_empty() { f64::NAN } else { 100.0 * mean_sd(&g).0 }
                    })
                    .collect(),
                intervals: None,
            })
            .collect();
        svg::line_chart_fitted(
            &format!("{} — GAUC gain over DIN by item frequency (rare → frequent)", self.name),
            "ΔGAUC (points)",
            &xs,
            &series,
        )
    }

    /// SVG lines of AUC against epochs.
    pub fn epochs_chart(&self) -> String {
        let mut epochs: Vec<usize> = self.curves.iter().map(|c| c.epochs).collect();
        epochs.sort();
        epochs.dedup();
        let xs: Vec<String> = epochs.iter().map(|e| e.to_string()).collect();
        let series: Vec<svg::Series> = ["DIN (id only)", "MAKE alone", "DIN + MAKE (joint)"]
            .iter()
            .map(|n| {
                let c = self.curve(n);
                svg::Series {
                    name: n.to_string(),
                    values: epochs.iter().map(|e| c.iter().find(|p| p.0 == *e).map_or(f64::NAN, |p| mean_sd(&p.1).0)).collect(),
                    intervals: None,
                }
            })
            .collect();
        svg::line_chart_fitted(&format!("{} — test GAUC against training epochs", self.name), "GAUC", &xs, &series)
    }

    /// Writes `report.md`, `results.json` and the charts into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let data = self.data.as_ref().map_or(String::new(), |d| {
            format!(
                "- {} training / {} test impressions (click rate {:.3} / {:.3}); mean behaviour sequence {:.1} clicks, {:.1}% of test impressions with none\n- multimodal vectors: {}-d{}; {} items without content\n",
                d.train_samples,
                d.test_samples,
                d.train_click_rate,
                d.test_click_rate,
                d.mean_history,
                100.0 * d.empty_histories,
                d.vector_dim,
                d.pca_explained.map_or(String::new(), |e| format!(" (PCA of the fused features, {:.1}% of the variance)", 100.0 * e)),
                d.items_without_content
            )
        });
        let md = format!(
            "# {}\n\n{}\n\n- seeds {:?}; git {}; {:.1}s\n{data}- ΔAUC/ΔGAUC: paired per seed against that seed's DIN, in points (×100); RelaImpr = (GAUC − 0.5)/(GAUC_DIN − 0.5) − 1\n\n{}\n\n## GAUC by item frequency (Δ vs DIN in points)\n\n{}\n\n![gain by bucket](ctr_gain_by_bucket.svg)\n\n## Epoch curves\n\n{}\n\n![epochs](ctr_epochs.svg)\n",
            self.name,
            self.config.description,
            self.config.seeds,
            self.git_revision,
            self.total_seconds,
            self.table(),
            self.bucket_table(),
            self.curve_table()
        );
        for (name, text) in [
            ("results.json", serde_json::to_string_pretty(self).map_err(|e| Error::Invalid(e.to_string()))?),
            ("report.md", md),
            ("ctr_gain_by_bucket.svg", self.gain_chart()),
            ("ctr_epochs.svg", self.epochs_chart()),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    }
}
