//! A thread-based HTTP/1.1 server on `127.0.0.1` whose requests each need a fixed amount of
//! simulated work done by a small pool of workers: the setting where backpressure decides
//! between latency, memory and refusals.
//!
//! ```text
//! cargo run --release --example http_server -- --mode reject --port 8080
//! wrk -t2 -c64 -d5s http://127.0.0.1:8080/      # or scripts/overload.sh for every mode
//! curl http://127.0.0.1:8080/stats
//! ```
//!
//! Each connection gets a thread; `GET /` hands a request to the workers and answers when its
//! work is done. Modes (`--mode`):
//!
//! - `unbounded`: an unbounded channel in front of the workers; nothing is refused, so under
//!   overload the queue, the latency and the memory grow.
//! - `reject`: a [`Processor`] with a bounded queue; `try_submit` refuses at once when full → 503.
//! - `timeout`: the same, but `submit_timeout` waits up to `--timeout-ms` for space → 503.
//! - `shed`: a [`LoadShedder`] admits at most `workers + capacity` requests in flight → 503.
//!
//! `GET /stats` answers plain text: `processed`, `ok`, `rejected`, `depth`, `wait_p99_us`
//! (time queued), `ok_p50_us` / `ok_p99_us` (request read → 200 answer written).
//! Options: `--port` (0 picks a free one; the chosen address is printed), `--workers` (4),
//! `--capacity` (64), `--work-ms` (5), `--timeout-ms` (20).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use backpressure::{LatencyHistogram, LoadShedder, Processor};

/// How the server reacts when the workers fall behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Queue everything.
    Unbounded,
    /// Refuse when the bounded queue is full.
    Reject,
    /// Wait a little for queue space, then refuse.
    Timeout,
    /// Refuse beyond a fixed number of requests in flight.
    Shed,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "unbounded" => Ok(Self::Unbounded),
            "reject" => Ok(Self::Reject),
            "timeout" => Ok(Self::Timeout),
            "shed" => Ok(Self::Shed),
            other => Err(format!("unknown mode {other:?}: use unbounded|reject|timeout|shed")),
        }
    }
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Overload strategy.
    pub mode: Mode,
    /// Worker threads doing the simulated work.
    pub workers: usize,
    /// Queue capacity (bounded modes) and extra in-flight allowance (`shed`).
    pub capacity: usize,
    /// Simulated work per request.
    pub work: Duration,
    /// How long `timeout` mode waits for queue space.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Reject,
            workers: 4,
            capacity: 64,
            work: Duration::from_millis(5),
            timeout: Duration::from_millis(20),
        }
    }
}

/// One request's work: done when the worker answers on `reply` with its sequence number.
struct Work {
    accepted: Instant,
    reply: mpsc::SyncSender<u64>,
}

/// Counters shared by connections and workers.
#[derive(Default)]
struct Counters {
    processed: AtomicU64,
    ok: AtomicU64,
    rejected: AtomicU64,
    wait: LatencyHistogram,
    /// Request read → answer written, for 200 answers.
    ok_latency: LatencyHistogram,
}

/// Where requests go.
enum Backend {
    Unbounded { tx: Mutex<mpsc::Sender<Work>>, depth: Arc<AtomicU64> },
    Bounded { processor: Processor<Work>, shedder: Option<Arc<LoadShedder>> },
}

struct Server {
    config: Config,
    backend: Backend,
    counters: Arc<Counters>,
}

/// Does the simulated work of one request and answers it.
fn work(counters: &Counters, duration: Duration, item: Work) {
    counters.wait.record(item.accepted.elapsed());
    thread::sleep(duration);
    // Relaxed: a counter; the reply channel carries the number to the connection.
    let seq = counters.processed.fetch_add(1, Ordering::Relaxed) + 1;
    let _ = item.reply.send(seq); // the client may have gone away
}

impl Server {
    fn new(config: Config) -> Self {
        let counters = Arc::new(Counters::default());
        let backend = match config.mode {
            Mode::Unbounded => {
                let (tx, rx) = mpsc::channel::<Work>();
                let rx = Arc::new(Mutex::new(rx));
                let depth = Arc::new(AtomicU64::new(0));
                for index in 0..config.workers {
                    let (rx, counters, depth, duration) =
                        (Arc::clone(&rx), Arc::clone(&counters), Arc::clone(&depth), config.work);
                    thread::Builder::new()
                        .name(format!("unbounded-{index}"))
                        .spawn(move || loop {
                            let Ok(item) = rx.lock().unwrap().recv() else { return };
                            // Relaxed: a gauge.
                            depth.fetch_sub(1, Ordering::Relaxed);
                            work(&counters, duration, item);
                        })
                        .expect("spawn a worker");
                }
                Backend::Unbounded { tx: Mutex::new(tx), depth }
            }
            mode => {
                let (c, duration) = (Arc::clone(&counters), config.work);
                // In `shed` mode the shedder bounds what is in flight; the queue just has room.
                let capacity = if mode == Mode::Shed { config.workers + config.capacity } else { config.capacity };
                let processor = Processor::builder()
                    .name("http")
                    .workers(config.workers)
                    .queue_capacity(capacity)
                    .build(move |item: Work| work(&c, duration, item))
                    .expect("valid configuration");
                let shedder =
                    (mode == Mode::Shed).then(|| Arc::new(LoadShedder::new(config.workers + config.capacity)));
                Backend::Bounded { processor, shedder }
            }
        };
        Self { config, backend, counters }
    }

    /// Runs one request through the backend: `Some(seq)` when it was processed, `None` when
    /// it was refused (503).
    fn serve(&self) -> Option<u64> {
        let (reply, done) = mpsc::sync_channel(1);
        let item = Work { accepted: Instant::now(), reply };
        let accepted = match &self.backend {
            Backend::Unbounded { tx, depth } => {
                // Relaxed: a gauge.
                depth.fetch_add(1, Ordering::Relaxed);
                tx.lock().unwrap().send(item).is_ok()
            }
            Backend::Bounded { processor, shedder: None } => match self.config.mode {
                Mode::Timeout => processor.submit_timeout(item, self.config.timeout).is_ok(),
                _ => processor.try_submit(item).is_ok(),
            },
            Backend::Bounded { processor, shedder: Some(shedder) } => {
                let Ok(_permit) = shedder.try_acquire() else { return None };
                // Admitted: the queue has room for every admitted request, so this never waits
                // long; the permit is held until the work is done.
                return processor.submit(item).ok().and_then(|()| done.recv().ok());
            }
        };
        if accepted {
            done.recv().ok()
        } else {
            None
        }
    }

    fn depth(&self) -> u64 {
        match &self.backend {
            // Relaxed: a gauge.
            Backend::Unbounded { depth, .. } => depth.load(Ordering::Relaxed),
            Backend::Bounded { processor, .. } => processor.len() as u64,
        }
    }

    fn stats_text(&self) -> String {
        let c = &self.counters;
        // Relaxed (all): statistics.
        format!(
            "processed {}\nok {}\nrejected {}\ndepth {}\nwait_p99_us {}\nok_p50_us {}\nok_p99_us {}\n",
            // Relaxed: a statistic.
            c.processed.load(Ordering::Relaxed),
            // Relaxed: a statistic.
            c.ok.load(Ordering::Relaxed),
            // Relaxed: a statistic.
            c.rejected.load(Ordering::Relaxed),
            self.depth(),
            c.wait.percentile(99.0).as_micros(),
            c.ok_latency.percentile(50.0).as_micros(),
            c.ok_latency.percentile(99.0).as_micros(),
        )
    }

    /// Serves one keep-alive connection until the client closes it.
    fn connection(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let started = Instant::now();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut close = line.ends_with("HTTP/1.0\r\n");
            // Headers (a GET has no body we care about).
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header)? == 0 {
                    return Ok(());
                }
                if header == "\r\n" || header == "\n" {
                    break;
                }
                if header.to_ascii_lowercase().starts_with("connection: close") {
                    close = true;
                }
            }
            let (status, body) = if path == "/stats" {
                ("200 OK", self.stats_text())
            } else {
                match self.serve() {
                    Some(seq) => {
                        // Relaxed: a statistic.
                        self.counters.ok.fetch_add(1, Ordering::Relaxed);
                        ("200 OK", format!("done {seq}\n"))
                    }
                    None => {
                        // Relaxed: a statistic.
                        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                        ("503 Service Unavailable", "busy\n".to_string())
                    }
                }
            };
            write!(
                writer,
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{body}",
                body.len(),
                if close { "Connection: close\r\n" } else { "" },
            )?;
            writer.flush()?;
            if status.starts_with("200") && path != "/stats" {
                self.counters.ok_latency.record(started.elapsed());
            }
            if close {
                return Ok(());
            }
        }
    }
}

/// Starts a server on `listener` in the background (one thread per connection) and returns
/// its address.
pub fn start(config: Config, listener: TcpListener) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let server = Arc::new(Server::new(config));
    thread::Builder::new().name("accept".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let server = Arc::clone(&server);
            let _ = thread::Builder::new().name("conn".into()).stack_size(64 * 1024).spawn(move || {
                let _ = server.connection(stream);
            });
        }
    })?;
    Ok(addr)
}

fn parse_args() -> Result<(Config, u16), String> {
    let mut config = Config::default();
    let mut port = 8080;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--mode" => config.mode = value.parse()?,
            "--port" => port = value.parse().map_err(|e| format!("--port {value}: {e}"))?,
            "--workers" => config.workers = number()? as usize,
            "--capacity" => config.capacity = number()? as usize,
            "--work-ms" => config.work = Duration::from_millis(number()?),
            "--timeout-ms" => config.timeout = Duration::from_millis(number()?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok((config, port))
}

#[allow(dead_code)] // the integration test includes this file as a module and uses `start`
fn main() {
    let (config, port) = parse_args().unwrap_or_else(|err| {
        eprintln!("http_server: {err}");
        std::process::exit(2);
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
    let mode = config.mode;
    let addr = start(config, listener).expect("start the server");
    println!("listening on http://{addr} (mode {mode:?})");
    loop {
        thread::park(); // serve until killed
    }
}
