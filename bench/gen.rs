//! Benchmark data: `coffer-bench-data gen DIR [SCALE]` writes a deterministic ~1 GiB (times
//! SCALE) folder of council-like data; `coffer-bench-data edit DIR` applies realistic edits
//! (rows appended, rows changed in the middle of large CSVs, files added, deleted, renamed),
//! about 1-3% of the bytes. `coffer-bench-data stages DIR` measures the CPU time of each
//! stage of a commit (read, chunk, hash, compress, seal, write) on one core over DIR's
//! files, and the compressed size under several compression choices: the stage budget.
//! `coffer-bench-data many DIR [FILES]` writes FILES (default a million) small files, 100
//! folders of at most 10,000 entries each, for memory per file.

use std::fs;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64: deterministic across platforms and crate versions.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &'a [&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const BOROUGHS: &[&str] = &[
    "Barking and Dagenham",
    "Barnet",
    "Bexley",
    "Brent",
    "Bromley",
    "Camden",
    "City of London",
    "Croydon",
    "Ealing",
    "Enfield",
    "Greenwich",
    "Hackney",
    "Hammersmith and Fulham",
    "Haringey",
    "Harrow",
    "Havering",
    "Hillingdon",
    "Hounslow",
    "Islington",
    "Kensington and Chelsea",
    "Kingston upon Thames",
    "Lambeth",
    "Lewisham",
    "Merton",
    "Newham",
    "Redbridge",
    "Richmond upon Thames",
    "Southwark",
    "Sutton",
    "Tower Hamlets",
    "Waltham Forest",
    "Wandsworth",
    "Westminster",
];
const SERVICES: &[&str] = &[
    "school-places",
    "housing",
    "adult-care",
    "child-care",
    "waste",
    "licensing",
    "planning",
];
const STATUS: &[&str] = &[
    "open",
    "closed",
    "pending",
    "referred",
    "escalated",
    "withdrawn",
];
const WORDS: &[&str] = &[
    "resident",
    "requested",
    "visit",
    "review",
    "placement",
    "temporary",
    "accommodation",
    "assessment",
    "completed",
    "waiting",
    "list",
    "priority",
    "band",
    "school",
    "transfer",
    "application",
    "received",
    "follow",
    "up",
    "needed",
    "carer",
    "support",
    "package",
    "repair",
    "damp",
    "mould",
    "reported",
    "tenant",
    "officer",
    "notes",
    "case",
    "closed",
];

fn row(r: &mut Rng, id: u64, out: &mut impl Write) -> std::io::Result<()> {
    let b = r.pick(BOROUGHS);
    let y = 2015 + r.below(11);
    let m = 1 + r.below(12);
    let d = 1 + r.below(28);
    write!(
        out,
        "{id},{b},E0{:07},{y}-{m:02}-{d:02},{},{},{}.{:02},{},\"",
        r.below(10_000_000),
        r.pick(SERVICES),
        r.below(40),
        r.below(100_000),
        r.below(100),
        r.pick(STATUS)
    )?;
    for i in 0..(3 + r.below(12)) {
        if i > 0 {
            out.write_all(b" ")?;
        }
        out.write_all(r.pick(WORDS).as_bytes())?;
    }
    out.write_all(b"\"\n")
}

const HEADER: &[u8] = b"id,borough,uprn,date,service,category,amount,status,notes\n";

fn csv(path: &Path, r: &mut Rng, bytes: u64, first_id: u64) -> std::io::Result<u64> {
    fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    let f = fs::File::create(path)?;
    let mut w = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, f),
        n: 0,
    };
    w.write_all(HEADER)?;
    let mut id = first_id;
    while w.n < bytes {
        row(r, id, &mut w)?;
        id += 1;
    }
    w.flush()?;
    Ok(id)
}

fn json(path: &Path, r: &mut Rng, features: u64) -> std::io::Result<()> {
    fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    let mut w = BufWriter::new(fs::File::create(path)?);
    w.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
    for i in 0..features {
        let lon = -0.5 + r.below(1_000_000) as f64 / 1_600_000.0;
        let lat = 51.28 + r.below(1_000_000) as f64 / 2_500_000.0;
        writeln!(
            w,
            "{}{{\"type\":\"Feature\",\"properties\":{{\"id\":{i},\"borough\":\"{}\",\"service\":\"{}\",\"capacity\":{}}},\"geometry\":{{\"type\":\"Point\",\"coordinates\":[{lon:.6},{lat:.6}]}}}}",
            if i > 0 { "," } else { "" },
            r.pick(BOROUGHS),
            r.pick(SERVICES),
            r.below(2000)
        )?;
    }
    w.write_all(b"]}\n")?;
    w.flush()
}

fn binary(path: &Path, r: &mut Rng, bytes: u64) -> std::io::Result<()> {
    fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    let mut left = bytes;
    while left > 0 {
        let v = r.next().to_le_bytes();
        let k = left.min(8) as usize;
        w.write_all(&v[..k])?;
        left -= k as u64;
    }
    w.flush()
}

struct CountingWriter<W> {
    inner: W,
    n: u64,
}
impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(b)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn slug(s: &str) -> String {
    s.to_lowercase().replace(' ', "-")
}

fn gen(dir: &Path, scale: u64) -> std::io::Result<()> {
    let mut r = Rng(2026);
    const MB: u64 = 1 << 20;
    // A few very large extracts (~390 MB).
    for (i, name) in [
        "housing/register-full.csv",
        "adult-care/visits-2015-2025.csv",
        "school-places/applications-history.csv",
    ]
    .iter()
    .enumerate()
    {
        csv(
            &dir.join("gla").join(name),
            &mut r,
            (110 + 20 * i as u64) * MB * scale,
            1,
        )?;
    }
    // Per-borough monthly service extracts: many small CSVs (~80 MB, 6,600 files).
    for b in BOROUGHS {
        for s in SERVICES {
            for m in 0..(28 * scale) {
                let p = dir.join(slug(b)).join(s).join(format!(
                    "{}-{:02}.csv",
                    2024 + m / 12,
                    1 + m % 12
                ));
                let size = 4 * 1024 + r.below(16 * 1024);
                csv(&p, &mut r, size, 1)?;
            }
        }
    }
    // Medium CSVs (~200 MB).
    for i in 0..(100 * scale) {
        let size = MB + r.below(2 * MB);
        csv(
            &dir.join("extracts").join(format!("extract-{i:04}.csv")),
            &mut r,
            size,
            1,
        )?;
    }
    // GeoJSON: many small and one large (~80 MB).
    for b in BOROUGHS {
        for k in 0..(100 * scale) {
            let n = 20 + r.below(60);
            json(
                &dir.join(slug(b))
                    .join("geo")
                    .join(format!("sites-{k:03}.geojson")),
                &mut r,
                n,
            )?;
        }
    }
    json(
        &dir.join("gla").join("all-sites.geojson"),
        &mut r,
        300_000 * scale,
    )?;
    // Incompressible stand-ins for XLSX and PDF (~260 MB).
    for i in 0..(260 * scale) {
        let ext = if i % 2 == 0 { "xlsx" } else { "pdf" };
        let size = 200 * 1024 + r.below(1600 * 1024);
        binary(
            &dir.join("reports").join(format!("report-{i:04}.{ext}")),
            &mut r,
            size,
        )?;
    }
    Ok(())
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == ext))
        .filter(|e| !e.path().components().any(|c| c.as_os_str() == ".coffer"))
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

fn edit(dir: &Path) -> std::io::Result<()> {
    let mut r = Rng(7);
    // Change a few rows in the middle of each large CSV (same length, so offsets stay).
    for f in files_under(&dir.join("gla"), "csv") {
        let len = fs::metadata(&f)?.len();
        let mut h = fs::OpenOptions::new().write(true).open(&f)?;
        for k in 1..=3u64 {
            h.seek(SeekFrom::Start(len * k / 4))?;
            h.write_all(b"CORRECTED,ROW,AFTER,AUDIT")?;
        }
    }
    // Append rows to some monthly CSVs and to a large one.
    let small = files_under(dir, "csv");
    for f in small.iter().step_by(40) {
        let mut h = fs::OpenOptions::new().append(true).open(f)?;
        for i in 0..20 {
            row(&mut r, 900_000 + i, &mut h)?;
        }
    }
    {
        let mut h = fs::OpenOptions::new()
            .append(true)
            .open(dir.join("gla/housing/register-full.csv"))?;
        let mut w = BufWriter::new(&mut h);
        for i in 0..40_000 {
            row(&mut r, 5_000_000 + i, &mut w)?;
        }
        w.flush()?;
    }
    // New files: a month of extracts and a new report.
    for b in BOROUGHS.iter().take(20) {
        csv(
            &dir.join(slug(b)).join("housing").join("2026-05.csv"),
            &mut r,
            30 * 1024,
            1,
        )?;
    }
    csv(&dir.join("extracts/extract-new.csv"), &mut r, 4 << 20, 1)?;
    binary(&dir.join("reports/report-new.pdf"), &mut r, 2 << 20)?;
    // Deletions and renames.
    let reports = files_under(&dir.join("reports"), "xlsx");
    for f in reports.iter().step_by(50) {
        fs::remove_file(f)?;
    }
    let extracts = files_under(&dir.join("extracts"), "csv");
    for f in extracts.iter().take(5) {
        let to = f.with_file_name(format!(
            "renamed-{}",
            f.file_name().unwrap_or_default().to_string_lossy()
        ));
        fs::rename(f, to)?;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let res = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("gen"), Some(d)) => {
            let scale = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
            gen(Path::new(d), scale)
        }
        (Some("edit"), Some(d)) => edit(Path::new(d)),
        (Some("stages"), Some(d)) => stages(Path::new(d)),
        (Some("csv"), Some(f)) => csv_floor(Path::new(f)),
        (Some("many"), Some(d)) => {
            let n = args
                .get(3)
                .and_then(|s| s.parse().ok())
                .unwrap_or(1_000_000);
            many(Path::new(d), n)
        }
        _ => {
            eprintln!(
                "usage: coffer-bench-data gen DIR [SCALE] | edit DIR | stages DIR | many DIR [FILES] | csv FILE"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = res {
        eprintln!("coffer-bench-data: {e}");
        std::process::exit(2);
    }
}

/// The floor under a row diff of a table: one core's CPU time to parse `file` with the
/// csv crate alone (from memory, records as bytes), then also to hash each record's first
/// cell with keyed BLAKE3 (what a keyed diff must do for every row), then to check UTF-8.
fn csv_floor(file: &Path) -> std::io::Result<()> {
    let bytes = fs::read(file)?;
    let mb = bytes.len() as f64 / 1e6;
    let pass = |hash: u8, utf8: bool| -> std::io::Result<(f64, u64)> {
        let t = thread_cpu();
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&bytes[..]);
        let mut rec = csv::ByteRecord::new();
        let (mut n, mut x) = (0u64, 0u8);
        while rd
            .read_byte_record(&mut rec)
            .map_err(std::io::Error::other)?
        {
            n += 1;
            if hash == 1 {
                let h = blake3::keyed_hash(&[7; 32], rec.get(0).unwrap_or_default());
                x ^= h.as_bytes()[0];
            } else if hash == 2 {
                use std::hash::Hasher;
                let mut h = siphasher::sip128::SipHasher24::new_with_keys(7, 9);
                h.write(rec.get(0).unwrap_or_default());
                x ^= siphasher::sip128::Hasher128::finish128(&h).h1 as u8;
            }
            if utf8 && std::str::from_utf8(rec.as_slice()).is_err() {
                x ^= 1;
            }
        }
        std::hint::black_box(x);
        Ok((thread_cpu() - t, n))
    };
    let (parse, rows) = pass(0, false)?;
    let (hashed, _) = pass(1, false)?;
    let (sip, _) = pass(2, false)?;
    let (checked, _) = pass(1, true)?;
    println!("{mb:.0} MB, {rows} records, one core:");
    println!(
        "  parse (csv crate)               {parse:.3} s  {:.0} ns/row",
        parse / rows as f64 * 1e9
    );
    println!(
        "  parse + keyed BLAKE3 of a cell  {hashed:.3} s  {:.0} ns/row",
        hashed / rows as f64 * 1e9
    );
    println!(
        "  parse + SipHash-2-4-128 of a cell {sip:.3} s  {:.0} ns/row",
        sip / rows as f64 * 1e9
    );
    println!(
        "  + UTF-8 check                   {checked:.3} s  {:.0} ns/row",
        checked / rows as f64 * 1e9
    );
    Ok(())
}

/// CPU seconds (user + system) of this thread so far.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// The stage budget of a commit over the files under `dir` (the `.coffer` folder left out),
/// one core, warm cache: each stage's CPU seconds per GiB of its input, and what each
/// compression choice stores. Compression choices are timed on the same chunks.
fn stages(dir: &Path) -> std::io::Result<()> {
    use coffer::chunking::Chunker;
    use coffer::crypto::keys::{EpochKeys, EpochSecret};
    use std::io::Read;
    let keys = EpochKeys::derive(1, &EpochSecret::generate());
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".coffer")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let out = tempfile::tempdir_in(dir.parent().unwrap_or(dir))?;
    // Seconds per stage, and bytes in.
    let (mut t_read, mut t_chunk, mut t_hash, mut t_seal, mut t_write) = (0.0, 0.0, 0.0, 0.0, 0.0);
    // The same packs again, written as coffer writes them (direct I/O, fsynced).
    let mut t_direct = 0.0;
    let (mut bytes, mut chunks, mut sealed_bytes) = (0u64, 0u64, 0u64);
    // Compression choices: name, level, decide by entropy first, bundle small chunks (spec
    // §6.4); seconds, bytes out. The first is what coffer does, and is what is sealed.
    use coffer::object::blob::{BUNDLE_CHUNK_MAX, BUNDLE_TARGET};
    // Level 0 stands for coffer's own setup (blob::new_compressor: level 3, tuned tables).
    let mut choices: Vec<(&str, i32, bool, bool, f64, u64)> = vec![
        ("zstd 3 tuned, bundles (coffer)", 0, true, true, 0.0, 0),
        ("zstd 3 tuned, one chunk at a time", 0, true, false, 0.0, 0),
        ("zstd 3 plain, bundles", 3, true, true, 0.0, 0),
        ("zstd 3, bundles, no entropy check", 3, false, true, 0.0, 0),
        ("zstd 1, bundles", 1, true, true, 0.0, 0),
        ("zstd 2, bundles", 2, true, true, 0.0, 0),
        ("zstd 4, bundles", 4, true, true, 0.0, 0),
    ];
    let mut bundles: Vec<Vec<u8>> = vec![Vec::new(); choices.len()];
    let mut compressors: Vec<zstd::bulk::Compressor> = choices
        .iter()
        .map(|c| match c.1 {
            0 => coffer::object::blob::new_compressor()
                .ok_or_else(|| std::io::Error::other("zstd cannot allocate a compressor")),
            level => zstd::bulk::Compressor::new(level),
        })
        .collect::<std::io::Result<_>>()?;
    let mut buf = Vec::new();
    let mut pack: Vec<u8> = Vec::new();
    let mut packs = 0u32;
    for f in &files {
        let t = thread_cpu();
        buf.clear();
        fs::File::open(f)?.read_to_end(&mut buf)?;
        t_read += thread_cpu() - t;
        bytes += buf.len() as u64;
        let mut c = Chunker::with_size_hint(&buf[..], keys.gear.clone(), buf.len() as u64);
        loop {
            let t = thread_cpu();
            let Some(chunk) = c.next_chunk()? else {
                t_chunk += thread_cpu() - t;
                break;
            };
            t_chunk += thread_cpu() - t;
            chunks += 1;
            let t = thread_cpu();
            let id = keys.id_key.blob_id(coffer::object::blob::KIND_CHUNK, chunk);
            t_hash += thread_cpu() - t;
            let mut kept: Option<Vec<u8>> = None;
            let mut ready = false;
            for (i, ch) in choices.iter_mut().enumerate() {
                let t = thread_cpu();
                let skip = ch.2 && coffer::object::blob::looks_incompressible(chunk);
                let bundle = ch.3 && !skip && chunk.len() < BUNDLE_CHUNK_MAX;
                // A bundled chunk waits; a full bundle is compressed as one frame.
                let input: Option<&[u8]> = if bundle {
                    bundles[i].extend_from_slice(chunk);
                    (bundles[i].len() >= BUNDLE_TARGET).then_some(&bundles[i][..])
                } else {
                    Some(chunk)
                };
                let z = match input {
                    Some(data) if !skip => {
                        let z = compressors[i].compress(data)?;
                        (z.len() + z.len() / 32 < data.len()).then_some(z)
                    }
                    _ => None,
                };
                ch.4 += thread_cpu() - t;
                let flushed = input.is_some();
                if let Some(data) = input {
                    ch.5 += z.as_ref().map_or(data.len(), Vec::len) as u64;
                }
                if bundle && flushed {
                    bundles[i].clear();
                }
                if i == 0 {
                    ready = flushed;
                    kept = z;
                }
            }
            if !ready {
                continue;
            }
            // The bundle's frame, or this chunk's; bundles are sealed as one body.
            let body = kept.as_deref().unwrap_or(chunk);
            let t = thread_cpu();
            let mut sealed = Vec::with_capacity(body.len() + 28);
            keys.blob.seal_into(&id.0, body, &mut sealed);
            t_seal += thread_cpu() - t;
            sealed_bytes += body.len() as u64;
            pack.extend_from_slice(&sealed);
            if pack.len() >= 16 << 20 {
                let t = thread_cpu();
                fs::write(out.path().join(format!("{packs}")), &pack)?;
                t_write += thread_cpu() - t;
                let t = thread_cpu();
                coffer::store::direct::put_new(&out.path().join(format!("d{packs}")), &pack)?;
                t_direct += thread_cpu() - t;
                packs += 1;
                pack.clear();
            }
        }
    }
    let t = thread_cpu();
    fs::write(out.path().join("last"), &pack)?;
    t_write += thread_cpu() - t;
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    println!(
        "{} files, {:.3} GiB, {} chunks; one core; CPU seconds per GiB of each stage's input",
        files.len(),
        gib(bytes),
        chunks
    );
    println!(
        "{:<34} {:>10} {:>10} {:>12}",
        "stage", "CPU s", "GiB in", "s per GiB"
    );
    let row = |name: &str, t: f64, b: u64| {
        println!(
            "{name:<34} {t:>10.2} {:>10.3} {:>12.2}",
            gib(b),
            t / gib(b).max(1e-9)
        );
    };
    row("read (warm cache)", t_read, bytes);
    row("chunk (keyed gear CDC)", t_chunk, bytes);
    row("hash (keyed BLAKE3 id)", t_hash, bytes);
    // Bundles still open at the end are compressed as they would be by the last commit.
    for (i, ch) in choices.iter_mut().enumerate() {
        if !bundles[i].is_empty() {
            let t = thread_cpu();
            let z = compressors[i].compress(&bundles[i])?;
            ch.4 += thread_cpu() - t;
            ch.5 += z.len().min(bundles[i].len()) as u64;
        }
    }
    for (name, _, _, _, t, _) in &choices {
        row(&format!("compress: {name}"), *t, bytes);
    }
    row("seal (AES-256-GCM)", t_seal, sealed_bytes);
    row("write (packs, page cache)", t_write, sealed_bytes);
    row("write (packs, direct I/O, fsync)", t_direct, sealed_bytes);
    println!("\n{:<34} {:>14}", "compression choice", "stored MiB");
    for (name, _, _, _, _, out) in &choices {
        println!("{name:<34} {:>14.1}", *out as f64 / (1u64 << 20) as f64);
    }
    Ok(())
}

/// `n` small files (60-200 bytes of CSV each), at most 10,000 to a folder.
fn many(dir: &Path, n: u64) -> std::io::Result<()> {
    let mut r = Rng(7);
    for i in 0..n {
        let sub = dir.join(format!("part-{:04}", i / 10_000));
        if i % 10_000 == 0 {
            fs::create_dir_all(&sub)?;
        }
        let mut body = String::from("id,ward,places\n");
        for k in 0..(2 + r.below(6)) {
            body.push_str(&format!(
                "{},W{:02},{}\n",
                i * 10 + k,
                r.below(33),
                r.below(500)
            ));
        }
        fs::write(sub.join(format!("f-{i:07}.csv")), body)?;
    }
    Ok(())
}
