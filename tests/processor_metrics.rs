//! Feature `metrics`: the exporter hands the crate's own figures to the `metrics` facade
//! (counters as absolute values, histograms as the recordings made since the last publish).
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use backpressure::metrics::MetricsExporter;
use backpressure::{BoundedQueue, Processor};
use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};

#[derive(Default)]
struct Samples(AtomicU64);

impl HistogramFn for Samples {
    fn record(&self, _: f64) {
        self.record_many(0.0, 1);
    }
    fn record_many(&self, _: f64, count: usize) {
        // Relaxed: a count read after the publishing calls returned, on this thread.
        self.0.fetch_add(count as u64, Ordering::Relaxed);
    }
}

/// Keeps every counter and histogram by `name{labels}`.
#[derive(Default)]
struct Capture {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<HashMap<String, Arc<Samples>>>,
}

fn series(key: &Key) -> String {
    let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::clone(self.counters.lock().unwrap().entry(series(key)).or_default()))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::clone(self.histograms.lock().unwrap().entry(series(key)).or_default()))
    }
}

impl Capture {
    fn counter(&self, series: &str) -> u64 {
        // Relaxed: read on the thread that published.
        self.counters.lock().unwrap()[series].load(Ordering::Relaxed)
    }
    fn samples(&self, series: &str) -> u64 {
        // Relaxed: as above.
        self.histograms.lock().unwrap()[series].0.load(Ordering::Relaxed)
    }
}

#[test]
fn queue_counters_and_wait_histogram_reach_the_recorder_without_double_counting() {
    let capture = Capture::default();
    let queue = BoundedQueue::builder(2).name("q").wait_sampling(1).build().unwrap();
    let mut exporter = MetricsExporter::queue("q");
    metrics::with_local_recorder(&capture, || {
        queue.try_submit(1).unwrap();
        queue.try_submit(2).unwrap();
        assert!(queue.try_submit(3).is_err());
        queue.try_recv().unwrap();
        exporter.publish_queue(&queue.stats());
        queue.try_recv().unwrap();
        exporter.publish_queue(&queue.stats());
        exporter.publish_queue(&queue.stats()); // nothing new: no histogram samples added
    });
    assert_eq!(capture.counter("backpressure_accepted_total{queue=q}"), 2);
    assert_eq!(capture.counter("backpressure_rejected_full_total{queue=q}"), 1);
    assert_eq!(capture.counter("backpressure_received_total{queue=q}"), 2);
    assert_eq!(capture.samples("backpressure_wait_seconds{queue=q}"), 2);
}

#[test]
fn processor_figures_are_labelled_with_its_name() {
    let capture = Capture::default();
    let processor = Processor::builder().name("pool").build(|n: u32| assert!(n != 3)).unwrap();
    for n in 0..5 {
        processor.submit(n).unwrap();
    }
    let report = processor.shutdown();
    let mut exporter = MetricsExporter::processor("pool");
    metrics::with_local_recorder(&capture, || exporter.publish_report(&report));
    assert_eq!(capture.counter("backpressure_handled_total{processor=pool}"), 5);
    assert_eq!(capture.counter("backpressure_panicked_total{processor=pool}"), 1);
    assert_eq!(capture.samples("backpressure_service_seconds{processor=pool}"), 5);
}
