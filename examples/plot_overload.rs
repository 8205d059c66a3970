//! Plots queue depth and queue-wait p99 over time, unbounded vs bounded, to an SVG.
//!
//! Two in-process runs of the same service (2 workers, 2 ms of simulated work per item, so
//! 1,000 items/s) under the same *open-loop* overload: 2,000 arrivals per second for 3 s, as
//! from clients that do not wait for each other. The unbounded run queues everything; the
//! bounded run is a [`Processor`] with a queue of 64 that refuses with `try_submit` when full.
//! Every 100 ms the depth and the p99 of the queue waits completed in that window are sampled.
//!
//! ```text
//! cargo run --release --example plot_overload -- docs/overload.svg
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use backpressure::{LatencyHistogram, Processor};
use plotters::prelude::*;

const WORKERS: usize = 2;
const WORK: Duration = Duration::from_millis(2);
const CAPACITY: usize = 64;
const ARRIVALS_PER_SEC: u64 = 2_000;
const RUN: Duration = Duration::from_secs(3);
const WINDOW: Duration = Duration::from_millis(100);

/// One sample: (seconds since start, depth, wait p99 in ms).
type Series = Vec<(f64, f64, f64)>;

/// The waits completed in the current window; swapped out at each sample.
#[derive(Default)]
struct Window(Mutex<Arc<LatencyHistogram>>);

impl Window {
    fn record(&self, accepted: Instant) {
        self.0.lock().unwrap().record(accepted.elapsed());
    }
    fn take(&self) -> Arc<LatencyHistogram> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Drives `submit` at the open-loop rate for `RUN`, sampling `depth` and the window's p99.
fn drive(mut submit: impl FnMut(Instant), depth: impl Fn() -> u64, window: &Window) -> Series {
    let start = Instant::now();
    let mut series = Vec::new();
    let mut sent = 0u64;
    let mut next_sample = WINDOW;
    while start.elapsed() < RUN {
        // Arrivals due by now (open loop: independent of how the service is doing).
        let due = (start.elapsed().as_secs_f64() * ARRIVALS_PER_SEC as f64) as u64;
        while sent < due {
            submit(Instant::now());
            sent += 1;
        }
        if start.elapsed() >= next_sample {
            let p99 = window.take().percentile(99.0).as_secs_f64() * 1e3;
            series.push((next_sample.as_secs_f64(), depth() as f64, p99));
            next_sample += WINDOW;
        }
        thread::sleep(Duration::from_millis(1));
    }
    series
}

fn unbounded() -> Series {
    let (tx, rx) = mpsc::channel::<Instant>();
    let rx = Arc::new(Mutex::new(rx));
    let window = Arc::new(Window::default());
    let (depth, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (rx, window, depth, stop) =
                (Arc::clone(&rx), Arc::clone(&window), Arc::clone(&depth), Arc::clone(&stop));
            thread::spawn(move || {
                // Relaxed: a flag checked between items; the backlog is abandoned at the end.
                while !stop.load(Ordering::Relaxed) {
                    let Ok(accepted) = rx.lock().unwrap().recv() else { return };
                    // Relaxed: a gauge.
                    depth.fetch_sub(1, Ordering::Relaxed);
                    window.record(accepted);
                    thread::sleep(WORK);
                }
            })
        })
        .collect();
    let series = drive(
        |accepted| {
            // Relaxed: a gauge.
            depth.fetch_add(1, Ordering::Relaxed);
            tx.send(accepted).unwrap();
        },
        // Relaxed: a gauge.
        || depth.load(Ordering::Relaxed),
        &window,
    );
    // Relaxed: see the workers.
    stop.store(true, Ordering::Relaxed);
    drop(tx);
    workers.into_iter().for_each(|w| w.join().unwrap());
    series
}

fn bounded() -> Series {
    let window = Arc::new(Window::default());
    let w = Arc::clone(&window);
    let processor = Processor::builder()
        .name("plot")
        .workers(WORKERS)
        .queue_capacity(CAPACITY)
        .build(move |accepted: Instant| {
            w.record(accepted);
            thread::sleep(WORK);
        })
        .expect("valid configuration");
    let series = drive(
        |accepted| {
            let _ = processor.try_submit(accepted); // refused: a 503 to the client
        },
        || processor.len() as u64,
        &window,
    );
    let _ = processor.shutdown_now();
    series
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "docs/overload.svg".to_string());
    if let Some(dir) = std::path::Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let runs = [("unbounded queue", unbounded(), RED), ("BoundedQueue(64), try_submit", bounded(), BLUE)];
    for (name, series, _) in &runs {
        let last = series.last().copied().unwrap_or_default();
        println!("{name}: depth {:.0}, wait p99 {:.1} ms at {:.1} s", last.1, last.2, last.0);
    }

    let root = SVGBackend::new(&path, (900, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(350);
    let secs = RUN.as_secs_f64();
    let max_depth = runs.iter().flat_map(|r| r.1.iter().map(|s| s.1)).fold(1.0, f64::max);
    let max_wait = runs.iter().flat_map(|r| r.1.iter().map(|s| s.2)).fold(1.0, f64::max);
    let panels =
        [(&top, "queue depth (items)", max_depth, 1usize), (&bottom, "queue wait p99 per 100 ms (ms)", max_wait, 2)];
    for (area, title, max, column) in panels {
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{title}: 2,000/s offered to a 1,000/s service"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..secs, 0.0..max * 1.1)?;
        chart.configure_mesh().x_desc("seconds").draw()?;
        for (name, series, color) in &runs {
            let points = series.iter().map(|s| (s.0, if column == 1 { s.1 } else { s.2 }));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).border_style(BLACK).draw()?;
    }
    root.present()?;
    println!("wrote {path}");
    Ok(())
}
