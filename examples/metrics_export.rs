//! Publishing a processor's figures through the `metrics` facade (feature `metrics`).
//!
//! A small hand-written recorder stands in for `metrics-exporter-prometheus`: it keeps every
//! counter, gauge and histogram in memory and prints them in the Prometheus text exposition
//! format. A processor with 2 workers and a queue of 32 is overloaded with `try_submit` (the
//! refusals are what an HTTP server would answer 503); a reporter publishes a snapshot after
//! each burst and the exposition text is printed at the end.
//!
//! ```text
//! cargo run --example metrics_export --features metrics
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backpressure::metrics::MetricsExporter;
use backpressure::Processor;
use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};

/// Samples recorded into one histogram, as (value, count) pairs.
#[derive(Default)]
struct Samples(Mutex<Vec<(f64, usize)>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.record_many(value, 1);
    }
    fn record_many(&self, value: f64, count: usize) {
        self.0.lock().unwrap().push((value, count));
    }
}

/// Every metric by name and labels.
#[derive(Default)]
struct PrintingRecorder {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Samples>>>,
}

/// `name{label="value",...}` for a key.
fn series(key: &Key, extra: &str) -> String {
    let mut labels: Vec<String> = key.labels().map(|l| format!("{}=\"{}\"", l.key(), l.value())).collect();
    if !extra.is_empty() {
        labels.push(extra.to_string());
    }
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for PrintingRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::clone(self.counters.lock().unwrap().entry(series(key, "")).or_default()))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::clone(self.gauges.lock().unwrap().entry(series(key, "")).or_default()))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let name = format!("{}|{}", key.name(), series(key, "").split_once('{').map_or("", |(_, l)| l));
        Histogram::from_arc(Arc::clone(self.histograms.lock().unwrap().entry(name).or_default()))
    }
}

impl PrintingRecorder {
    /// The Prometheus text exposition of everything recorded (histograms as summaries).
    fn render(&self) -> String {
        let mut out = String::new();
        for (series, value) in self.counters.lock().unwrap().iter() {
            // Relaxed: the workers are done; a plain reading.
            writeln!(out, "{series} {}", value.load(Ordering::Relaxed)).unwrap();
        }
        for (series, bits) in self.gauges.lock().unwrap().iter() {
            // Relaxed: as above. The facade stores a gauge as the bits of an f64.
            writeln!(out, "{series} {}", f64::from_bits(bits.load(Ordering::Relaxed))).unwrap();
        }
        for (key, samples) in self.histograms.lock().unwrap().iter() {
            let (name, labels) = key.split_once('|').unwrap();
            let labels = labels.trim_end_matches('}');
            let mut samples = samples.0.lock().unwrap().clone();
            samples.sort_by(|a, b| a.0.total_cmp(&b.0));
            let count: usize = samples.iter().map(|s| s.1).sum();
            let sum = samples.iter().fold(0.0, |sum, s| sum + s.0 * s.1 as f64);
            for q in [0.5, 0.9, 0.99] {
                let rank = ((q * count as f64).ceil() as usize).max(1);
                let mut seen = 0;
                let value = samples.iter().find(|s| {
                    seen += s.1;
                    seen >= rank
                });
                let value = value.map_or(0.0, |s| s.0);
                writeln!(out, "{name}{{{labels},quantile=\"{q}\"}} {value:.6}").unwrap();
            }
            writeln!(out, "{name}_sum{{{labels}}} {sum:.6}\n{name}_count{{{labels}}} {count}").unwrap();
        }
        out
    }
}

fn main() {
    let recorder: &'static PrintingRecorder = Box::leak(Box::default());
    metrics::set_global_recorder(recorder).expect("no other recorder is installed");

    let processor = Processor::builder()
        .name("thumbnails")
        .workers(2)
        .queue_capacity(32)
        .wait_sampling(1) // a demo: stamp every item
        .build(|millis: u64| std::thread::sleep(Duration::from_millis(millis)))
        .expect("valid configuration");
    let mut exporter = MetricsExporter::processor(processor.name());

    let mut refused = 0;
    for burst in 0..10 {
        for _ in 0..100 {
            if processor.try_submit(1).is_err() {
                refused += 1; // an HTTP server would answer 503 here
            }
        }
        exporter.publish_processor(&processor.stats());
        println!("burst {burst}: queued {}, refused so far {refused}", processor.len());
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = processor.shutdown();
    println!("handled {} (panicked {}), refused {refused}\n", report.handled, report.panicked);

    exporter.publish_report(&report); // the final totals
    print!("{}", recorder.render());
}
