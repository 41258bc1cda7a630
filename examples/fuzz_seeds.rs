//! Writes seed inputs for the fuzz targets: `fuzz_seeds DIR` writes `DIR/<target>/<n>` from the
//! project's own generator (these are committed under `fuzz/seeds`); `fuzz_seeds --corpus DIR`
//! builds them from the shared corpus instead (never committed; CI makes them at run time).

use gnip_stream::core::{ComplianceKind, Level};
use gnip_stream::simulator::generator::{Format, Generator};
use std::path::Path;

fn generated() -> Vec<Vec<u8>> {
    let mut g = Generator::new(2024);
    let mut recs = Vec::new();
    for format in [Format::Native, Format::ActivityStreams] {
        for _ in 0..3 {
            let mut r = Vec::new();
            g.activity_in(format, &mut r);
            recs.push(r);
        }
        for kind in ComplianceKind::ALL {
            let mut r = Vec::new();
            g.compliance(kind, format, &mut r);
            recs.push(r);
        }
    }
    for level in [Level::Info, Level::Warn, Level::Error] {
        let r = format!(
            r#"{{"{}":{{"message":"Forced Disconnect: Too many connections. (Allowed Connections = 2)\n","sent":"2017-01-11T18:12:52+00:00"}}}}"#,
            level.name()
        );
        recs.push(r.into_bytes());
    }
    // Keep committed seeds small: drop the largest activities.
    recs.retain(|r| r.len() <= 4096);
    recs
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (records, out) = match args.as_slice() {
        [flag, out] if flag == "--corpus" => {
            let files = gnip_stream::simulator::corpus::load_default()?;
            let recs: Vec<Vec<u8>> = files.into_iter().flat_map(|f| f.records).collect();
            (recs, out.clone())
        }
        [out] => (generated(), out.clone()),
        _ => return Err("usage: fuzz_seeds [--corpus] DIR".into()),
    };
    let mut counts = std::collections::BTreeMap::new();
    for (target, input) in gnip_stream::__fuzz::seeds(&records) {
        let dir = Path::new(&out).join(target);
        std::fs::create_dir_all(&dir)?;
        let n = counts.entry(target).or_insert(0usize);
        std::fs::write(dir.join(format!("seed-{n:04}")), input)?;
        *n += 1;
    }
    println!("wrote {counts:?} under {out}");
    Ok(())
}
