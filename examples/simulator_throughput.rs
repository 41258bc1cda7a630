//! How fast the simulator serves: it streams a pre-compressed block as fast as curl reads it
//! (`curl --compressed -o /dev/null`), for `SECS` seconds (default 5), and prints compressed
//! and inflated MB/s. The client benchmark needs the simulator not to be its bottleneck.
//!
//! `cargo run --release --example simulator_throughput [SECS]`

use std::process::Command;

use gnip_stream::Product;
use gnip_stream::simulator::{Rate, RecordSource, Simulator, SimulatorConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let source = RecordSource::auto();
    println!("records: {}", source.description());
    let sim = Simulator::start(
        SimulatorConfig::default()
            .source(source)
            .rate(Rate::Unlimited),
    )?;
    let url = sim.stream_url(Product::PowerTrack, "acme", "prod");
    let run = |extra: &[&str]| -> Result<(f64, f64), Box<dyn std::error::Error>> {
        let out = Command::new("curl")
            .args([
                "--compressed",
                "-sS",
                "-u",
                "demo:demo",
                "--max-time",
                &secs.to_string(),
            ])
            .args(extra)
            .args(["-w", "%{size_download} %{time_total}", &url])
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace();
        let bytes: f64 = it.next().ok_or("no figures from curl")?.parse()?;
        let time: f64 = it.next().ok_or("no figures from curl")?.parse()?;
        Ok((bytes, time))
    };
    // size_download counts the bytes on the wire (compressed); -o /dev/null throws away the
    // inflated output.
    let (bytes, time) = run(&["-o", "/dev/null"])?;
    let compressed = bytes / time / 1e6;
    // The same stream inflated: count it through a pipe.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "curl --compressed -sS -u demo:demo --max-time {secs} '{url}' | wc -c"
        ))
        .output()?;
    let inflated_bytes: f64 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
    let inflated = inflated_bytes / secs / 1e6;
    println!(
        "curl --compressed -o /dev/null: {compressed:.1} MB/s compressed on the wire over {time:.1} s"
    );
    println!("curl --compressed | wc -c:      {inflated:.1} MB/s inflated");
    // The simulator's own ceiling: a reader that inflates nothing.
    let raw = raw_read(sim.addr(), secs)?;
    println!("raw socket read, no inflate:    {raw:.1} MB/s compressed (the simulator's ceiling)");
    sim.shutdown();
    Ok(())
}

fn raw_read(addr: std::net::SocketAddr, secs: f64) -> std::io::Result<f64> {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(addr)?;
    sock.write_all(
        b"GET /stream/powertrack/accounts/acme/publishers/twitter/prod.json HTTP/1.1\r\n\
          Host: x\r\nAuthorization: Basic ZGVtbzpkZW1v\r\nAccept-Encoding: gzip\r\n\r\n",
    )?;
    let mut buf = vec![0u8; 256 * 1024];
    let start = std::time::Instant::now();
    let mut total = 0usize;
    while start.elapsed().as_secs_f64() < secs {
        match sock.read(&mut buf)? {
            0 => break,
            n => total += n,
        }
    }
    Ok(total as f64 / start.elapsed().as_secs_f64() / 1e6)
}
