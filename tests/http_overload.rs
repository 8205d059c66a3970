//! The HTTP example under bounded overload from a Rust client on loopback: refusals (503)
//! appear in the bounded modes, and every 200 answer stands for work a worker really did
//! (distinct sequence numbers, and the server's processed count equals the 200s received).
//! No timing thresholds: socket timeouts are only a watchdog.

#[path = "../examples/http_server.rs"]
#[allow(dead_code)]
mod http_server;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use http_server::{start, Config, Mode};

const CLIENTS: usize = 24;
const REQUESTS_PER_CLIENT: usize = 8;

/// One keep-alive request; returns (status code, body).
fn get(reader: &mut BufReader<TcpStream>, path: &str) -> (u16, String) {
    write!(reader.get_mut(), "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut status = String::new();
    reader.read_line(&mut status).expect("watchdog: no answer in time");
    let code = status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("a status line");
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header == "\r\n" {
            break;
        }
        if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (code, String::from_utf8(body).unwrap())
}

fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap(); // watchdog
    BufReader::new(stream)
}

fn stat(addr: SocketAddr, name: &str) -> u64 {
    let (_, body) = get(&mut connect(addr), "/stats");
    body.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).expect("stat present")
}

/// Overloads a server in `mode` and checks the no-lost-work invariants; returns the 503 count.
fn overload(mode: Mode) -> usize {
    let config =
        Config { mode, workers: 1, capacity: 2, work: Duration::from_millis(2), timeout: Duration::from_millis(1) };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap(); // ephemeral port, loopback only
    let addr = start(config, listener).unwrap();
    let answers: Vec<(u16, String)> = thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                s.spawn(move || {
                    let mut conn = connect(addr);
                    (0..REQUESTS_PER_CLIENT).map(|_| get(&mut conn, "/")).collect::<Vec<_>>()
                })
            })
            .collect();
        clients.into_iter().flat_map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(answers.len(), CLIENTS * REQUESTS_PER_CLIENT, "every request answered");
    let mut seqs = HashSet::new();
    let mut refused = 0;
    for (code, body) in &answers {
        match code {
            200 => {
                let seq: u64 = body.trim().strip_prefix("done ").unwrap().parse().unwrap();
                assert!(seqs.insert(seq), "sequence number {seq} answered twice");
            }
            503 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // Every 200 stands for one piece of work done, and no work was done without a 200: all
    // clients waited for their answers, so the counts must match exactly.
    let processed = stat(addr, "processed");
    assert_eq!(processed, seqs.len() as u64, "{mode:?}: processed vs 200 answers");
    assert!(seqs.iter().all(|&s| (1..=processed).contains(&s)));
    assert_eq!(stat(addr, "rejected"), refused as u64);
    refused
}

/// Whether overload in `mode` produces 503s, in one of a few bounded rounds (a scheduler could
/// in principle serialize one round's clients; it cannot plausibly do so every time).
fn sees_refusals(mode: Mode) -> bool {
    (0..5).any(|_| overload(mode) > 0)
}

#[test]
#[cfg_attr(miri, ignore)]
fn reject_mode_answers_503_and_loses_no_work() {
    assert!(sees_refusals(Mode::Reject), "24 clients against 1 worker and 2 slots must see refusals");
}

#[test]
#[cfg_attr(miri, ignore)]
fn timeout_mode_answers_503_and_loses_no_work() {
    assert!(sees_refusals(Mode::Timeout));
}

#[test]
#[cfg_attr(miri, ignore)]
fn shed_mode_answers_503_and_loses_no_work() {
    assert!(sees_refusals(Mode::Shed));
}

#[test]
#[cfg_attr(miri, ignore)]
fn unbounded_mode_refuses_nothing_and_loses_no_work() {
    assert_eq!(overload(Mode::Unbounded), 0);
}
