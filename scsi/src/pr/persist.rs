//! APTPL (SPC-5 5.14.5): the reservation state as a small text file, and
//! writing it atomically. The encoding is I/O-free; [`save`] and
//! [`remove`] are the only file operations.
//!
//! Format (one item per line, fields separated by one space):
//! ```text
//! xtgt-pr 1
//! generation <u32>
//! reg <key hex> <all_tg_pt 0|1> <relative port> <target> <initiator> <isid|->
//! reservation <type hex> <holder: index of its reg line|all>
//! ```
//! iSCSI names contain no spaces (RFC 3722), so no quoting is needed.
//! `generation` is kept for diagnostics; a restore starts PRgeneration at
//! zero (SPC-5 6.15.2: a power on sets it to zero, APTPL or not).

use super::types::{PrData, PrType, Registration, Reservation};
use std::io::{self, Write};
use std::path::Path;

const MAGIC: &str = "xtgt-pr 1";

/// Encodes `d` (whose APTPL is set) for the file.
pub fn encode(d: &PrData) -> String {
    let mut s = format!("{MAGIC}\ngeneration {}\n", d.generation);
    for r in &d.registrations {
        s.push_str(&format!(
            "reg {:016x} {} {} {} {} {}\n",
            r.key,
            u8::from(r.all_tg_pt),
            r.rel_port,
            r.target,
            r.initiator,
            r.isid.as_deref().unwrap_or("-")
        ));
    }
    if let Some(res) = d.reservation {
        let holder = match res.holder {
            None => "all".to_string(),
            Some(h) => d
                .registrations
                .iter()
                .position(|r| r.id == h)
                .map_or_else(|| "all".to_string(), |i| i.to_string()),
        };
        s.push_str(&format!("reservation {:x} {holder}\n", res.ty.code()));
    }
    s
}

/// Decodes a file written by [`encode`]; the state has APTPL set. The
/// error says which line is wrong.
pub fn decode(text: &str) -> Result<PrData, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, l)) if l == MAGIC => {}
        _ => return Err(format!("the first line is not \"{MAGIC}\"")),
    }
    let mut d = PrData {
        aptpl: true,
        ..Default::default()
    };
    let mut reservation: Option<(PrType, Option<usize>)> = None;
    for (i, line) in lines {
        let n = i + 1;
        let bad = |what: &str| format!("line {n}: {what}: {line:?}");
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            [] | [""] => {}
            ["generation", g] => d.generation = g.parse().map_err(|_| bad("bad generation"))?,
            ["reg", key, atp, rel, target, initiator, isid] => {
                let key = u64::from_str_radix(key, 16).map_err(|_| bad("bad key"))?;
                let all_tg_pt = match *atp {
                    "0" => false,
                    "1" => true,
                    _ => return Err(bad("bad all_tg_pt")),
                };
                let rel_port = rel.parse().map_err(|_| bad("bad relative port"))?;
                let isid = match *isid {
                    "-" => None,
                    i if i.len() == 12 && i.bytes().all(|c| c.is_ascii_hexdigit()) => {
                        Some(i.to_ascii_lowercase())
                    }
                    _ => return Err(bad("bad isid")),
                };
                if target.is_empty() || initiator.is_empty() {
                    return Err(bad("empty name"));
                }
                d.add(Registration {
                    id: 0,
                    key,
                    initiator: initiator.to_ascii_lowercase(),
                    isid,
                    target: target.to_string(),
                    rel_port,
                    all_tg_pt,
                });
            }
            ["reservation", ty, holder] => {
                let ty = u8::from_str_radix(ty, 16)
                    .ok()
                    .and_then(PrType::from_code)
                    .ok_or_else(|| bad("bad type"))?;
                let holder = match *holder {
                    "all" => None,
                    h => Some(h.parse::<usize>().map_err(|_| bad("bad holder"))?),
                };
                reservation = Some((ty, holder));
            }
            _ => return Err(bad("unknown line")),
        }
    }
    if let Some((ty, holder)) = reservation {
        if ty.all_registrants() != holder.is_none() {
            return Err("the reservation's holder does not fit its type".to_string());
        }
        let holder = match holder {
            None => None,
            Some(i) => Some(
                d.registrations
                    .get(i)
                    .map(|r| r.id)
                    .ok_or("the reservation holder is not a registration")?,
            ),
        };
        if d.registrations.is_empty() {
            return Err("a reservation without registrations".to_string());
        }
        d.reservation = Some(Reservation { ty, holder });
    }
    Ok(d)
}

/// Writes `text` to `path` atomically: a temporary file in the same
/// folder, fsync, rename over `path`, fsync of the folder.
pub fn save(path: &Path, text: &str) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Removes the file (APTPL=0); a missing file is fine. The folder is
/// synced so the removal survives a power loss.
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => std::fs::File::open(d)?.sync_all(),
        _ => Ok(()),
    }
}

/// Reads the file at `path`: `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<PrData>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => decode(&t)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}
