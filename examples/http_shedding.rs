//! Priority load shedding in front of a small thread-per-connection HTTP server.
//!
//! Each request names its priority in an `X-Priority: low|normal|high|critical` header. The
//! server admits it through a [`PriorityShedder`]; when the priority's share of capacity is
//! used up it answers `503 Service Unavailable` with `Retry-After` at once, instead of letting
//! every request queue up and time out.
//!
//! ```text
//! cargo run --example http_shedding -- --load            # overload it for 3 s and report
//! cargo run --example http_shedding -- --load --seconds 5 --clients 48 --max-load 8
//! cargo run --example http_shedding -- --port 8080       # serve for 30 s, then exit
//! curl -H 'X-Priority: high' http://127.0.0.1:8080/
//! ```
//!
//! Everything stays on 127.0.0.1, and every loop is bounded in time and count: the server
//! stops after `--serve-seconds` (default 30) and the load generator after `--seconds`
//! (default 3, at most 30).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use backpressure::{LatencyHistogram, Priority, PriorityShedder};

/// How long an admitted request "works" (a stand-in for a database call).
const WORK: Duration = Duration::from_millis(4);
/// Read/write timeout on every socket, so no connection thread can hang.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest request head we read.
const MAX_HEAD: u64 = 8 * 1024;
/// Requests per client thread at most, whatever the duration.
const MAX_REQUESTS_PER_CLIENT: u64 = 50_000;
/// Most connection threads alive at once; beyond it the server answers 503 without a thread.
const MAX_CONNECTION_THREADS: u64 = 256;

struct Options {
    port: u16,
    load: bool,
    seconds: u64,
    serve_seconds: u64,
    clients: usize,
    max_load: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options { port: 0, load: false, seconds: 3, serve_seconds: 30, clients: 32, max_load: 8 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--load" => options.load = true,
            "--port" => options.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--seconds" => options.seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--serve-seconds" => {
                options.serve_seconds =
                    value("--serve-seconds")?.parse().map_err(|e| format!("--serve-seconds: {e}"))?
            }
            "--clients" => options.clients = value("--clients")?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--max-load" => options.max_load = value("--max-load")?.parse().map_err(|e| format!("--max-load: {e}"))?,
            "-h" | "--help" => {
                return Err("usage: http_shedding [--port N] [--serve-seconds S] [--load [--seconds S] \
                            [--clients N]] [--max-load N]"
                    .into())
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    options.seconds = options.seconds.clamp(1, 30);
    options.serve_seconds = options.serve_seconds.clamp(1, 3600);
    options.clients = options.clients.clamp(1, 128);
    if options.max_load == 0 {
        return Err("--max-load must be at least 1, got 0".into());
    }
    Ok(options)
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let shedder = Arc::new(PriorityShedder::new(options.max_load));
    let listener = TcpListener::bind(("127.0.0.1", options.port)).expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (shedder, stop) = (Arc::clone(&shedder), Arc::clone(&stop));
        thread::spawn(move || serve(listener, &shedder, &stop))
    };
    println!("listening on http://{addr}/ with max_load {}", options.max_load);

    if options.load {
        let report = generate_load(addr, options.clients, Duration::from_secs(options.seconds));
        report.print(&shedder);
    } else {
        thread::sleep(Duration::from_secs(options.serve_seconds));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = TcpStream::connect(addr); // wakes the blocking accept so it sees `stop`
    server.join().expect("server thread");
}

/// The accept loop: one thread per connection, until `stop`.
fn serve(listener: TcpListener, shedder: &Arc<PriorityShedder>, stop: &AtomicBool) {
    let live = Arc::new(AtomicU64::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(stream) = stream else { continue };
        if live.load(Ordering::Relaxed) >= MAX_CONNECTION_THREADS {
            let _ = respond(stream, 503, "too many connections\n", true);
            continue;
        }
        live.fetch_add(1, Ordering::Relaxed);
        let (shedder, live) = (Arc::clone(shedder), Arc::clone(&live));
        thread::spawn(move || {
            let _ = handle(stream, &shedder);
            live.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Reads one request, admits it by priority or sheds it with 503 + Retry-After.
fn handle(stream: TcpStream, shedder: &PriorityShedder) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let priority = read_priority(&stream)?;
    match shedder.try_acquire(priority) {
        Ok(_permit) => {
            thread::sleep(WORK); // the permit is held while we work and released on return
            respond(stream, 200, &format!("done ({priority})\n"), false)
        }
        Err(overloaded) => respond(stream, 503, &format!("{overloaded}\n"), true),
    }
}

/// Reads the request head (bounded) and returns the `X-Priority` header, `Normal` if absent.
fn read_priority(stream: &TcpStream) -> std::io::Result<Priority> {
    let mut reader = BufReader::new(stream.take(MAX_HEAD));
    let mut priority = Priority::Normal;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            return Ok(priority);
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("x-priority") {
                priority = parse_priority(value.trim()).unwrap_or(Priority::Normal);
            }
        }
    }
}

fn parse_priority(value: &str) -> Option<Priority> {
    Priority::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(value))
}

fn respond(mut stream: TcpStream, status: u16, body: &str, shed: bool) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Service Unavailable" };
    let retry = if shed { "Retry-After: 1\r\n" } else { "" };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// Client-side tallies per priority.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    shed: AtomicU64,
    failed: AtomicU64,
    latency: LatencyHistogram,
}

struct Report {
    tallies: [Tally; 4],
    elapsed: Duration,
}

/// `clients` threads sending requests of mixed priority for `duration`, each as fast as it can.
fn generate_load(addr: SocketAddr, clients: usize, duration: Duration) -> Report {
    let tallies: [Tally; 4] = Default::default();
    let start = Instant::now();
    let deadline = start + duration;
    thread::scope(|s| {
        for client in 0..clients {
            let tallies = &tallies;
            s.spawn(move || {
                let mut rng = fastrand::Rng::with_seed(client as u64);
                for _ in 0..MAX_REQUESTS_PER_CLIENT {
                    if Instant::now() >= deadline {
                        break;
                    }
                    // Traffic mix: 40% low, 30% normal, 20% high, 10% critical.
                    let priority = match rng.u32(0..10) {
                        0..=3 => Priority::Low,
                        4..=6 => Priority::Normal,
                        7..=8 => Priority::High,
                        _ => Priority::Critical,
                    };
                    let tally = &tallies[priority as usize];
                    tally.sent.fetch_add(1, Ordering::Relaxed);
                    let sent_at = Instant::now();
                    match request(addr, priority) {
                        Ok(200) => {
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                            tally.latency.record(sent_at.elapsed());
                        }
                        Ok(503) => {
                            tally.shed.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    Report { tallies, elapsed: start.elapsed() }
}

/// One request on a fresh connection; returns the status code.
fn request(addr: SocketAddr, priority: Priority) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(stream, "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Priority: {priority}\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.take(MAX_HEAD).read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok());
    status.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no status line"))
}

impl Report {
    fn print(&self, shedder: &PriorityShedder) {
        println!("\n{:.1} s of load; admitted requests take {WORK:?} of work each\n", self.elapsed.as_secs_f64());
        println!(
            "{:<9} {:>7} {:>9} {:>7} {:>6} {:>8}   {:>8} {:>8} {:>8}",
            "priority", "limit", "sent", "200", "503", "shed %", "p50", "p90", "p99"
        );
        for p in Priority::ALL {
            let t = &self.tallies[p as usize];
            let (sent, ok, shed) =
                (t.sent.load(Ordering::Relaxed), t.ok.load(Ordering::Relaxed), t.shed.load(Ordering::Relaxed));
            let shed_pct = if sent == 0 { 0.0 } else { 100.0 * shed as f64 / sent as f64 };
            let pct = |q| format!("{:.1?}", t.latency.percentile(q));
            println!(
                "{:<9} {:>7} {:>9} {:>7} {:>6} {:>7.1}%   {:>8} {:>8} {:>8}",
                p.as_str(),
                shedder.limit(p),
                sent,
                ok,
                shed,
                shed_pct,
                pct(50.0),
                pct(90.0),
                pct(99.0)
            );
        }
        let failed: u64 = self.tallies.iter().map(|t| t.failed.load(Ordering::Relaxed)).sum();
        println!("\nserver counters (admitted / shed):");
        for p in Priority::ALL {
            println!("  {:<9} {:>7} / {}", p.as_str(), shedder.admitted(p), shedder.shed(p));
        }
        if failed > 0 {
            println!("{failed} requests failed at the socket level (timeouts or refused connections)");
        }
        println!("load now: {} of {}", shedder.load(), shedder.max_load());
    }
}
