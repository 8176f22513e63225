//! Full scoring and threshold-only re-scoring at 100k and 1M service-days.
//! Run: `cargo bench -p servicewatch-shared --features synth`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use servicewatch_shared::cpu::{self, found, Level};
use servicewatch_shared::synth::{generate, Config};
use servicewatch_shared::{BaselineParams, FlagParams, Method, Scores};

fn panels() -> Vec<(&'static str, servicewatch_shared::Panel)> {
    // 730 days per service: 137 services ≈ 100k, 1370 ≈ 1M service-days.
    [("100k", 137), ("1M", 1370)]
        .into_iter()
        .map(|(name, services)| (name, generate(&Config { services, days: 730, ..Config::default() }).panel))
        .collect()
}

fn bench(c: &mut Criterion) {
    let panels = panels();
    let mut full = c.benchmark_group("full");
    full.sample_size(10);
    for (name, panel) in &panels {
        for (label, method, weekly) in [
            ("classic", Method::Classic, false),
            ("robust", Method::Robust, false),
            ("robust+weekly", Method::Robust, true),
        ] {
            let params = BaselineParams { method, weekly, ..Default::default() };
            // The browser keeps its Scores and re-scores into them on a new range.
            let mut scores = Scores::compute(panel, &params);
            full.bench_with_input(BenchmarkId::new(label, name), panel, |b, p| b.iter(|| scores.recompute(p, &params)));
            let fresh = format!("{label} (fresh memory)");
            full.bench_with_input(BenchmarkId::new(fresh, name), panel, |b, p| b.iter(|| Scores::compute(p, &params)));
            if method == Method::Robust && found() > Level::Baseline {
                // What the kernel's wider copies save (`servicewatch_shared::cpu`).
                cpu::limit(Level::Baseline);
                let label = format!("{label} (x86-64 baseline)");
                full.bench_with_input(BenchmarkId::new(label, name), panel, |b, p| {
                    b.iter(|| scores.recompute(p, &params))
                });
                cpu::limit(Level::Avx512);
            }
        }
    }
    full.finish();

    let mut rescore = c.benchmark_group("threshold_only");
    for (name, panel) in &panels {
        let scores = Scores::compute(panel, &BaselineParams::default());
        let mut z = 2.0;
        rescore.bench_function(*name, |b| {
            b.iter(|| {
                // A slider being dragged: a new threshold each time.
                z = if z > 4.0 { 2.0 } else { z + 0.05 };
                let flags = scores.flag(&FlagParams { z, ..Default::default() });
                scores.ranked(&flags, 100)
            })
        });
        // The worst case: a threshold so low that most days are flagged,
        // and the app's 1000 table rows to rank.
        let mut low = 0.5;
        rescore.bench_function(format!("{name}, z 0.5-1, top 1000"), |b| {
            b.iter(|| {
                low = if low > 1.0 { 0.5 } else { low + 0.05 };
                let flags = scores.flag(&FlagParams { z: low, ..Default::default() });
                scores.ranked(&flags, 1000)
            })
        });
    }
    rescore.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
