//! The main demo: producers offer ~10x what one consumer can handle, on real threads, once per
//! strategy, and one table compares what each strategy did with the excess.
//!
//! ```text
//! cargo run --release --example overload            # about 10 s
//! cargo run --release --example overload -- --help
//! ```
//!
//! Rows:
//! - `unbounded`: `std::sync::mpsc::channel`, no backpressure: the backlog (and memory and
//!   queue wait) grows for as long as the overload lasts.
//! - `try_submit`: refuse at once when full; the producer learns immediately.
//! - `submit_timeout`: wait a bounded time for space, then give up.
//! - `submit`: wait as long as it takes; the producers are slowed to the consumer's pace.
//! - `submit_cancellable`: wait under a per-request budget (a child token with a timeout) that
//!   a run-wide token cancels at shutdown, releasing every blocked producer at once.
//!
//! Every refused item comes back to the producer inside the error (and is counted here).

use backpressure::{BoundedQueue, CancelToken, LatencyHistogram, SubmitTimeoutError, TrySubmitError};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Settings, from the command line.
#[derive(Clone, Debug)]
struct Config {
    duration: Duration,
    capacity: usize,
    consumer_rate: f64,
    overload: f64,
    producers: usize,
    item_bytes: usize,
    timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            duration: Duration::from_millis(1500),
            capacity: 100,
            consumer_rate: 2000.0,
            overload: 10.0,
            producers: 4,
            item_bytes: 1024,
            timeout: Duration::from_millis(1),
        }
    }
}

const HELP: &str = "\
overload: a producer offering ~10x what a consumer can take, once per backpressure strategy.

USAGE: cargo run --release --example overload -- [OPTIONS]

OPTIONS:
  --duration-ms N     how long each strategy runs            [default: 1500]
  --capacity N        bounded queue capacity                 [default: 100]
  --consumer-rate N   items/s the consumer can handle        [default: 2000]
  --overload X        producers offer X times that           [default: 10]
  --producers N       producer threads                       [default: 4]
  --item-bytes N      payload bytes per item                 [default: 1024]
  --timeout-ms N      wait budget for submit_timeout and the
                      cancellable per-request token          [default: 1]
  -h, --help          this text";

fn parse_args() -> Result<Config, String> {
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{HELP}");
            std::process::exit(0);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| -> Result<f64, String> {
            let n: f64 = value.parse().map_err(|_| format!("{flag}: `{value}` is not a number"))?;
            if !n.is_finite() || n <= 0.0 {
                return Err(format!("{flag}: {what} must be positive, got {value}"));
            }
            Ok(n)
        };
        match flag.as_str() {
            "--duration-ms" => config.duration = Duration::from_secs_f64(number("duration")? / 1000.0),
            "--capacity" => config.capacity = number("capacity")? as usize,
            "--consumer-rate" => config.consumer_rate = number("rate")?,
            "--overload" => config.overload = number("overload")?,
            "--producers" => config.producers = number("producers")? as usize,
            "--item-bytes" => config.item_bytes = number("item bytes")? as usize,
            "--timeout-ms" => config.timeout = Duration::from_secs_f64(number("timeout")? / 1000.0),
            _ => return Err(format!("unknown option {flag}\n\n{HELP}")),
        }
    }
    if config.capacity == 0 || config.producers == 0 {
        return Err("--capacity and --producers must be at least 1".into());
    }
    Ok(config)
}

/// One unit of work: an id, when it was queued, and a payload that makes the backlog's memory real.
struct Job {
    queued_at: Instant,
    payload: Vec<u8>,
}

/// The five ways to hand a job to the consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    Unbounded,
    TrySubmit,
    SubmitTimeout,
    Submit,
    Cancellable,
}

impl Strategy {
    const ALL: [Strategy; 5] =
        [Strategy::Unbounded, Strategy::TrySubmit, Strategy::SubmitTimeout, Strategy::Submit, Strategy::Cancellable];

    fn name(self) -> &'static str {
        match self {
            Strategy::Unbounded => "unbounded (mpsc)",
            Strategy::TrySubmit => "try_submit",
            Strategy::SubmitTimeout => "submit_timeout",
            Strategy::Submit => "submit (blocking)",
            Strategy::Cancellable => "submit_cancellable",
        }
    }
}

/// What happened to the offered jobs, counted by the producers and the consumer.
#[derive(Default)]
struct Tally {
    offered: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    timed_out: AtomicU64,
    cancelled: AtomicU64,
    /// Refused because the run ended (queue closed under a blocked producer).
    stopped: AtomicU64,
    processed: AtomicU64,
    /// Accepted minus taken, for the unbounded channel (bounded rows read the queue's own stats).
    /// Signed: the consumer may count its take before the producer counts the acceptance.
    depth: AtomicI64,
    peak_depth: AtomicI64,
    wait: LatencyHistogram,
}

impl Tally {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn accepted(&self) {
        Self::add(&self.accepted);
        let depth = self.depth.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_depth.fetch_max(depth, Ordering::Relaxed);
    }

    fn taken(&self, job: &Job) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        self.wait.record(job.queued_at.elapsed());
    }
}

/// The hand-off under test: an unbounded channel or our bounded queue.
enum Channel {
    Unbounded(Mutex<Option<mpsc::Receiver<Job>>>),
    Bounded(Box<BoundedQueue<Job>>),
}

/// Everything one strategy run shares between its threads.
struct Run {
    config: Config,
    strategy: Strategy,
    channel: Channel,
    tally: Tally,
    stop: AtomicBool,
    /// Cancelled when the run ends: releases producers blocked in `submit_cancellable`.
    run_token: CancelToken,
}

impl Run {
    fn offer(&self, sender: Option<&mpsc::Sender<Job>>) {
        let job = Job { queued_at: Instant::now(), payload: vec![0u8; self.config.item_bytes] };
        Tally::add(&self.tally.offered);
        let t = &self.tally;
        // Count before handing over, so the consumer never sees a job the tally does not.
        let outcome: Result<(), (&AtomicU64, Job)> = match (&self.channel, self.strategy) {
            (Channel::Unbounded(..), _) => {
                t.accepted();
                sender.expect("unbounded producers hold a sender").send(job).map_err(|e| (&t.stopped, e.0))
            }
            (Channel::Bounded(q), Strategy::TrySubmit) => q.try_submit(job).map_err(|e| match e {
                TrySubmitError::Full(job) => (&t.rejected, job),
                TrySubmitError::Closed(job) => (&t.stopped, job),
            }),
            (Channel::Bounded(q), Strategy::SubmitTimeout) => {
                q.submit_timeout(job, self.config.timeout).map_err(|e| self.classify(e))
            }
            (Channel::Bounded(q), Strategy::Submit) => q.submit(job).map_err(|e| (&t.stopped, e.into_inner())),
            (Channel::Bounded(q), _) => {
                let request = self.run_token.child_with_timeout(self.config.timeout);
                q.submit_cancellable(job, &request).map_err(|e| self.classify(e))
            }
        };
        match outcome {
            Ok(()) if !matches!(self.channel, Channel::Unbounded(..)) => t.accepted(),
            Ok(()) => {}
            // The job is back in our hands: here we only count it; a real producer would retry,
            // answer 503, or spill it elsewhere.
            Err((counter, _job)) => Tally::add(counter),
        }
    }

    /// Items queued now: the queue's own length, or the tally for the unbounded channel.
    fn depth(&self) -> u64 {
        match &self.channel {
            Channel::Bounded(q) => q.len() as u64,
            Channel::Unbounded(..) => self.tally.depth.load(Ordering::Relaxed).max(0) as u64,
        }
    }

    fn peak_depth(&self) -> u64 {
        match &self.channel {
            Channel::Bounded(q) => q.stats().peak_depth,
            Channel::Unbounded(..) => self.tally.peak_depth.load(Ordering::Relaxed).max(0) as u64,
        }
    }

    fn classify(&self, err: SubmitTimeoutError<Job>) -> (&AtomicU64, Job) {
        match err {
            SubmitTimeoutError::Timeout(job) => (&self.tally.timed_out, job),
            SubmitTimeoutError::Cancelled(job) => (&self.tally.cancelled, job),
            SubmitTimeoutError::Closed(job) => (&self.tally.stopped, job),
        }
    }
}

/// Offers `rate` jobs per second in 1 ms ticks until stopped. A producer that was blocked does
/// not burst to catch up: it resumes the schedule from now.
fn producer(run: &Run, rate: f64, sender: Option<mpsc::Sender<Job>>) {
    let tick = Duration::from_millis(1);
    let per_tick = rate * tick.as_secs_f64();
    let mut owed = 0.0;
    let mut next = Instant::now();
    while !run.stop.load(Ordering::Relaxed) {
        owed += per_tick;
        while owed >= 1.0 && !run.stop.load(Ordering::Relaxed) {
            owed -= 1.0;
            run.offer(sender.as_ref());
        }
        next += tick;
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

/// Takes jobs and "handles" each in exactly 1/rate seconds (on an absolute schedule, so sleep
/// granularity does not lower the rate), until stopped.
fn consumer(run: &Run) {
    let service = Duration::from_secs_f64(1.0 / run.config.consumer_rate);
    let receiver = match &run.channel {
        Channel::Unbounded(rx) => rx.lock().unwrap().take(),
        Channel::Bounded(_) => None,
    };
    let mut busy_until = Instant::now();
    while !run.stop.load(Ordering::Relaxed) {
        let job = match (&run.channel, &receiver) {
            (Channel::Bounded(q), _) => q.recv_timeout(Duration::from_millis(10)).ok(),
            (_, Some(rx)) => rx.recv_timeout(Duration::from_millis(10)).ok(),
            (_, None) => unreachable!("the unbounded receiver is taken once"),
        };
        let Some(job) = job else { continue };
        run.tally.taken(&job);
        std::hint::black_box(&job.payload);
        // Keep the absolute schedule through small oversleeps; restart it after real idleness.
        let now = Instant::now();
        if now > busy_until + service * 4 {
            busy_until = now;
        }
        busy_until += service;
        let now = Instant::now();
        if busy_until > now {
            thread::sleep(busy_until - now);
        }
        Tally::add(&run.tally.processed);
    }
    // Whatever is left is the backlog; the channel drops it when the run is dropped.
    drop(receiver);
}

/// One finished run's figures.
struct Row {
    strategy: Strategy,
    offered: u64,
    accepted: u64,
    rejected: u64,
    timed_out: u64,
    cancelled: u64,
    processed: u64,
    backlog: u64,
    peak_depth: u64,
    depth_over_time: Vec<u64>,
    wait: LatencyHistogram,
    elapsed: Duration,
    item_bytes: usize,
}

fn run_strategy(config: &Config, strategy: Strategy, index: usize) -> Row {
    let (channel, sender) = match strategy {
        Strategy::Unbounded => {
            let (tx, rx) = mpsc::channel();
            (Channel::Unbounded(Mutex::new(Some(rx))), Some(tx))
        }
        _ => (Channel::Bounded(Box::new(BoundedQueue::new(config.capacity))), None),
    };
    let run = Arc::new(Run {
        config: config.clone(),
        strategy,
        channel,
        tally: Tally::default(),
        stop: AtomicBool::new(false),
        run_token: CancelToken::new(),
    });
    let per_producer = config.consumer_rate * config.overload / config.producers as f64;
    let start = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..config.producers {
        let (run, sender) = (run.clone(), sender.clone());
        threads.push(thread::spawn(move || producer(&run, per_producer, sender)));
    }
    drop(sender);
    {
        let run = run.clone();
        threads.push(thread::spawn(move || consumer(&run)));
    }
    let samples = 4;
    let mut depth_over_time = Vec::new();
    for sample in 1..=samples {
        let at = start + config.duration * sample / samples;
        while Instant::now() < at {
            thread::sleep(Duration::from_millis(50).min(at.saturating_duration_since(Instant::now())));
            progress(index, &run, start.elapsed(), config.duration);
        }
        depth_over_time.push(run.depth());
    }
    // End of the window: stop everyone, and release producers that are blocked.
    run.stop.store(true, Ordering::Relaxed);
    run.run_token.cancel();
    if let Channel::Bounded(q) = &run.channel {
        q.close();
    }
    for t in threads {
        t.join().expect("a demo thread panicked");
    }
    let elapsed = start.elapsed();
    let t = &run.tally;
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Row {
        strategy,
        offered: load(&t.offered),
        accepted: load(&t.accepted),
        rejected: load(&t.rejected),
        timed_out: load(&t.timed_out),
        cancelled: load(&t.cancelled) + load(&t.stopped),
        processed: load(&t.processed),
        backlog: run.depth(),
        peak_depth: run.peak_depth(),
        depth_over_time,
        wait: t.wait.clone(),
        elapsed: elapsed.min(config.duration),
        item_bytes: config.item_bytes,
    }
}

/// A live status line on a terminal; nothing when stderr is a pipe or file.
fn progress(index: usize, run: &Run, elapsed: Duration, total: Duration) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let (strategy, tally) = (run.strategy, &run.tally);
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    eprint!(
        "\r\x1b[K[{}/5] {:<19} {:>4.1}s/{:.1}s  offered {:>6}  accepted {:>6}  depth {:>6}",
        index + 1,
        strategy.name(),
        elapsed.as_secs_f64().min(total.as_secs_f64()),
        total.as_secs_f64(),
        load(&tally.offered),
        load(&tally.accepted),
        run.depth(),
    );
    let _ = std::io::stderr().flush();
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{ms:.1}ms")
    }
}

fn print_table(config: &Config, rows: &[Row]) {
    println!(
        "\n{} producers offer {:.0}/s ({}x) to one consumer that handles {:.0}/s; bounded capacity {}, {} B items, {} per strategy.\n",
        config.producers,
        config.consumer_rate * config.overload,
        config.overload,
        config.consumer_rate,
        config.capacity,
        config.item_bytes,
        ms(config.duration),
    );
    println!(
        "{:<19} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9}  depth over time (25/50/75/100%)",
        "strategy",
        "offered",
        "accepted",
        "rejected",
        "timed out",
        "cancelled",
        "processed",
        "backlog",
        "peak depth",
        "peak bytes",
        "wait p50",
        "wait p99",
        "wait max",
        "prod/s",
    );
    for r in rows {
        let peak_bytes = r.peak_depth as f64 * (r.item_bytes + std::mem::size_of::<Job>()) as f64;
        let bytes = if peak_bytes >= 1024.0 * 1024.0 {
            format!("{:.1} MiB", peak_bytes / (1024.0 * 1024.0))
        } else {
            format!("{:.0} KiB", peak_bytes / 1024.0)
        };
        let depths: Vec<String> = r.depth_over_time.iter().map(u64::to_string).collect();
        println!(
            "{:<19} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9.0}  {}",
            r.strategy.name(),
            r.offered,
            r.accepted,
            r.rejected,
            r.timed_out,
            r.cancelled,
            r.processed,
            r.backlog,
            r.peak_depth,
            bytes,
            ms(r.wait.percentile(50.0)),
            ms(r.wait.percentile(99.0)),
            ms(r.wait.max()),
            r.accepted as f64 / r.elapsed.as_secs_f64(),
            depths.join(" → "),
        );
    }
    println!(
        "\nprod/s: items accepted per second. wait: time from submit to the consumer taking the item.\n\
         cancelled: cancelled via the run token, or handed back by close at the end of the window.\n\
         The unbounded backlog grows for as long as the overload lasts (its memory and queue wait with it);\n\
         every bounded row stays at or below capacity {} and its wait stays near capacity / consumer rate.",
        config.capacity
    );
}

fn main() {
    let config = match parse_args() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let rows: Vec<Row> = Strategy::ALL
        .iter()
        .enumerate()
        .map(|(index, &strategy)| {
            if !std::io::stderr().is_terminal() {
                eprintln!("[{}/5] running {} for {}", index + 1, strategy.name(), ms(config.duration));
            }
            run_strategy(&config, strategy, index)
        })
        .collect();
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
    print_table(&config, &rows);
}
