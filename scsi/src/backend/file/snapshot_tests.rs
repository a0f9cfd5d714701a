//! Point-in-time snapshots. The XFS tests loop-mount a fresh XFS image with
//! reflink (root only: `#[ignore]`, run by conformance/test.sh as
//! `cargo test -p scsi -- --ignored snapshot`); the others run everywhere.

use super::{clone_plan, Layout};
use crate::backend::{Backend, FileBackend};
use bytes::Bytes;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// The byte at absolute offset `i` of a medium filled with `seed`.
fn byte(seed: u64, i: u64) -> u8 {
    ((i.wrapping_add(seed << 40)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15))
        >> 56) as u8
}

fn pattern(seed: u64, offset: u64, len: u64) -> Vec<u8> {
    (offset..offset + len).map(|i| byte(seed, i)).collect()
}

/// A fresh XFS file system (reflink on) on a sparse image, loop-mounted
/// under the temporary directory; unmounted and removed on drop.
struct XfsMount {
    root: PathBuf,
    mnt: PathBuf,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl XfsMount {
    fn new(size: u64) -> Self {
        let root = std::env::temp_dir().join(format!("xtgt-snap-{:016x}", rand::random::<u64>()));
        let mnt = root.join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        let img = root.join("xfs.img");
        File::create(&img).unwrap().set_len(size).unwrap();
        run(Command::new("mkfs.xfs")
            .args(["-q", "-m", "reflink=1"])
            .arg(&img));
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&img)
            .arg(&mnt));
        Self { root, mnt }
    }

    fn dir(&self) -> &Path {
        &self.mnt
    }
}

impl Drop for XfsMount {
    fn drop(&mut self) {
        for _ in 0..20 {
            if Command::new("umount")
                .arg(&self.mnt)
                .status()
                .is_ok_and(|s| s.success())
            {
                let _ = std::fs::remove_dir_all(&self.root);
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// File names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Free bytes of the file system holding `dir` (statfs, as `df` reports).
fn free_bytes(dir: &Path) -> u64 {
    let s = run(Command::new("stat").args(["-f", "-c", "%a %S"]).arg(dir));
    let mut it = s.split_whitespace().map(|x| x.parse::<u64>().unwrap());
    it.next().unwrap() * it.next().unwrap()
}

/// Poll `free_bytes` until `ok` holds (XFS frees an unlinked inode's blocks
/// in the background after its last close); the last value either way.
fn free_bytes_when(dir: &Path, ok: impl Fn(u64) -> bool) -> u64 {
    let t = Instant::now();
    loop {
        run(Command::new("sync").arg("-f").arg(dir));
        let f = free_bytes(dir);
        if ok(f) || t.elapsed() > Duration::from_secs(10) {
            return f;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn fs_type(dir: &Path) -> String {
    run(Command::new("stat").args(["-f", "-c", "%T"]).arg(dir))
}

/// Write `size` bytes of `pattern(seed, ..)` to a new file and sync it.
fn write_pattern(path: &Path, seed: u64, size: u64) {
    let f = File::create(path).unwrap();
    let mut off = 0;
    while off < size {
        let n = MIB.min(size - off);
        f.write_all_at(&pattern(seed, off, n), off).unwrap();
        off += n;
    }
    f.sync_all().unwrap();
}

/// Write `size` bytes fast (each 4 KiB block stamped with its offset, so no
/// two blocks are equal) to a new file and sync it.
fn write_stamped(path: &Path, size: u64) {
    let f = File::create(path).unwrap();
    let mut buf = pattern(7, 0, MIB);
    let mut off = 0;
    while off < size {
        for (k, block) in buf.chunks_mut(4096).enumerate() {
            block[..8].copy_from_slice(&(off + 4096 * k as u64).to_le_bytes());
        }
        f.write_all_at(&buf, off).unwrap();
        off += MIB;
    }
    f.sync_all().unwrap();
}

#[test]
fn clone_plan_widens_to_blocks_and_merges() {
    let plan = clone_plan(
        &[
            (40960 + 1536, 5 * 4096 + 1024),
            (512, 3 * 512),
            (20 * 4096 + 2048, 1024),
            (20 * 4096 + 512, 512),
            (12345, 0),
            (4096, 4096),
        ],
        4096,
    )
    .unwrap();
    assert_eq!(plan, vec![(0, 8192), (40960, 65536), (81920, 86016)]);
    assert_eq!(clone_plan(&[], 4096).unwrap(), vec![]);
    assert_eq!(
        clone_plan(&[(u64::MAX - 10, 100)], 4096)
            .unwrap_err()
            .kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        clone_plan(&[(u64::MAX - 4000, 10)], 4096)
            .unwrap_err()
            .kind(),
        io::ErrorKind::InvalidInput
    );
}

#[test]
fn layout_maps_token_offsets_to_file_offsets_in_token_order() {
    let l = Layout::new(&[(1000, 10), (0, 0), (50, 5), (7, 3)]).unwrap();
    assert_eq!(l.ranges, vec![(1000, 10), (50, 5), (7, 3)]);
    assert_eq!(l.starts, vec![0, 10, 15]);
    assert_eq!(l.len, 18);
    assert_eq!(l.pieces(0, 18).unwrap(), vec![(1000, 10), (50, 5), (7, 3)]);
    assert_eq!(l.pieces(8, 6).unwrap(), vec![(1008, 2), (50, 4)]);
    assert_eq!(l.pieces(10, 5).unwrap(), vec![(50, 5)]);
    assert_eq!(l.pieces(17, 1).unwrap(), vec![(9, 1)]);
    assert_eq!(l.pieces(18, 0).unwrap(), vec![]);
    for (off, len) in [(18, 1), (0, 19), (u64::MAX, 2)] {
        assert_eq!(
            l.pieces(off, len).unwrap_err().kind(),
            io::ErrorKind::InvalidInput,
            "{off}+{len}"
        );
    }
    assert_eq!(
        Layout::new(&[(u64::MAX, 1)]).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        Layout::new(&[(0, u64::MAX), (0, 1)]).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

/// ext4 and tmpfs have no reflink: the probe says so and snapshot() refuses,
/// leaving nothing behind in the directory.
#[tokio::test]
async fn no_snapshot_without_reflink_on_ext4_or_tmpfs() {
    let candidates = [std::env::temp_dir(), PathBuf::from("/dev/shm")];
    let dirs: Vec<&PathBuf> = candidates
        .iter()
        .filter(|d| d.is_dir() && ["ext2/ext3", "tmpfs"].contains(&fs_type(d).as_str()))
        .collect();
    assert!(
        !dirs.is_empty(),
        "no ext4 or tmpfs directory to test on (looked at {candidates:?})"
    );
    for parent in dirs {
        let dir = parent.join(format!("xtgt-nosnap-{:016x}", rand::random::<u64>()));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("lu.img");
        write_pattern(&path, 1, MIB);
        let before = listing(&dir);
        let b = FileBackend::open_or_create(&path, None, false).unwrap();
        assert!(!b.capabilities().point_in_time, "{}", dir.display());
        let e = b.snapshot(&[(0, 4096)]).await.err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{}", dir.display());
        assert_eq!(listing(&dir), before, "{}", dir.display());
        drop(b);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test]
#[ignore = "needs root: loop-mounts XFS"]
async fn xfs_snapshot_keeps_the_old_bytes_of_unaligned_ranges() {
    const SIZE: u64 = 64 * MIB;
    let m = XfsMount::new(512 * MIB);
    let path = m.dir().join("lu.img");
    write_pattern(&path, 1, SIZE);
    let b = FileBackend::open_or_create(&path, Some(SIZE), false).unwrap();
    assert!(b.capabilities().point_in_time);
    let before = listing(m.dir());
    // Token order unsorted; 512-byte LBAs inside 4 KiB blocks, two ranges
    // sharing one block, the last LBA, an empty range.
    let ranges = [
        (8 * MIB, MIB),
        (512, 3 * 512),
        (40960 + 1536, 5 * 4096 + 1024),
        (20 * 4096 + 2048, 1024),
        (20 * 4096 + 512, 512),
        (12345 * 512, 0),
        (SIZE - 512, 512),
    ];
    let snap = b.snapshot(&ranges).await.unwrap();
    let old: Vec<u8> = ranges.iter().flat_map(|&(o, l)| pattern(1, o, l)).collect();
    assert_eq!(snap.len(), old.len() as u64);
    assert_eq!(
        listing(m.dir()),
        before,
        "the snapshot file is never visible"
    );

    let mut off = 0;
    while off < SIZE {
        b.write(off, Bytes::from(pattern(2, off, MIB)), false)
            .await
            .unwrap();
        off += MIB;
    }
    b.flush().await.unwrap();
    assert_eq!(
        &b.read(512, 1536).await.unwrap()[..],
        &pattern(2, 512, 1536)[..]
    );

    let all = snap.read(0, old.len()).await.unwrap();
    assert!(all[..] == old[..], "the snapshot holds the old bytes");
    let n = old.len() as u64;
    for (o, l) in [
        (0, 1),
        (MIB - 100, 700),
        (MIB + 1530, 20),
        (n - 513, 513),
        (n - 1, 1),
    ] {
        let got = snap.read(o, l as usize).await.unwrap();
        assert!(got[..] == old[o as usize..(o + l) as usize], "read {o}+{l}");
    }
    assert_eq!(
        snap.read(n - 1, 2).await.unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    let native = snap.native_file().unwrap();
    let (file, extents) = (native.file, native.extents);
    let nonempty: Vec<(u64, u64)> = ranges.iter().copied().filter(|r| r.1 > 0).collect();
    assert_eq!(extents, nonempty);
    for (o, l) in extents {
        let mut buf = vec![0u8; l as usize];
        file.read_exact_at(&mut buf, o).unwrap();
        assert!(buf == pattern(1, o, l), "native extent {o}+{l}");
    }
    // Ranges outside the medium are refused before anything is cloned.
    assert_eq!(
        b.snapshot(&[(SIZE - 512, 1024)])
            .await
            .err()
            .unwrap()
            .kind(),
        io::ErrorKind::InvalidInput
    );
    drop(file);
    drop(snap);
    assert_eq!(listing(m.dir()), before);
}

#[tokio::test]
#[ignore = "needs root: loop-mounts XFS"]
async fn xfs_snapshot_shares_blocks_and_frees_them_when_dropped() {
    const SIZE: u64 = 256 * MIB;
    let m = XfsMount::new(512 * MIB);
    let path = m.dir().join("lu.img");
    write_stamped(&path, SIZE);
    let b = FileBackend::open_or_create(&path, Some(SIZE), false).unwrap();
    let before = listing(m.dir());
    let free0 = free_bytes(m.dir());
    let snap = b.snapshot(&[(0, SIZE)]).await.unwrap();
    let free1 = free_bytes(m.dir());
    let cost = free0.saturating_sub(free1);
    println!("snapshot of 256 MiB costs {cost} bytes of free space");
    assert!(cost < SIZE / 100, "the clone used {cost} bytes");
    assert_eq!(listing(m.dir()), before);

    // Overwriting 64 MiB of the source allocates new blocks (copy on write):
    // the old ones stay with the snapshot.
    let data = Bytes::from(pattern(3, 0, MIB));
    for i in 0..64 {
        b.write(i * MIB, data.clone(), false).await.unwrap();
    }
    b.flush().await.unwrap();
    let free2 = free_bytes(m.dir());
    assert!(
        free1.saturating_sub(free2) >= 60 * MIB,
        "overwrite under a snapshot took only {} bytes",
        free1.saturating_sub(free2)
    );
    let mut first = snap.read(0, 4096).await.unwrap().to_vec();
    assert_eq!(&first[..8], &0u64.to_le_bytes());
    first[..8].copy_from_slice(&[0; 8]);
    let mut expect = pattern(7, 0, 4096);
    expect[..8].copy_from_slice(&[0; 8]);
    assert!(first == expect, "old bytes");

    drop(snap);
    let free3 = free_bytes_when(m.dir(), |f| f.abs_diff(free0) < SIZE / 100);
    assert!(
        free3.abs_diff(free0) < SIZE / 100,
        "after the snapshot is dropped free space is {free3}, was {free0} before it"
    );
    assert_eq!(listing(m.dir()), before);
}

#[tokio::test]
#[ignore = "needs root: loop-mounts XFS"]
async fn xfs_probe_finds_point_in_time_but_not_on_a_block_device() {
    let m = XfsMount::new(512 * MIB);
    let path = m.dir().join("lu.img");
    write_pattern(&path, 4, MIB);
    let before = listing(m.dir());
    let rw = FileBackend::open_or_create(&path, None, false).unwrap();
    assert!(rw.capabilities().point_in_time);
    let ro = FileBackend::open_or_create(&path, None, true).unwrap();
    assert!(
        ro.capabilities().point_in_time,
        "a read-only LU can be snapshotted"
    );
    let snap = ro.snapshot(&[(4096 + 512, 1024)]).await.unwrap();
    rw.write(4096, Bytes::from(vec![0xEE; 4096]), false)
        .await
        .unwrap();
    assert!(snap.read(0, 1024).await.unwrap()[..] == pattern(4, 4096 + 512, 1024)[..]);
    assert_eq!(listing(m.dir()), before, "the probe leaves nothing behind");
    drop(snap);

    let dev = run(Command::new("findmnt")
        .args(["-n", "-o", "SOURCE"])
        .arg(m.dir()));
    assert!(dev.starts_with("/dev/loop"), "{dev}");
    let bd = FileBackend::open_or_create(Path::new(&dev), None, true).unwrap();
    assert!(!bd.capabilities().point_in_time);
    assert_eq!(
        bd.snapshot(&[(0, 4096)]).await.err().unwrap().kind(),
        io::ErrorKind::Unsupported
    );
}

/// Measurement for the README/report: a snapshot of 1 GiB of written data
/// against a plain read/write copy of the same bytes (run with
/// `--nocapture` to see the numbers).
#[tokio::test]
#[ignore = "needs root: loop-mounts XFS"]
async fn xfs_snapshot_of_1_gib_takes_milliseconds() {
    const SIZE: u64 = 1 << 30;
    let m = XfsMount::new(3 << 30);
    let path = m.dir().join("lu.img");
    write_stamped(&path, SIZE);
    let b = FileBackend::open_or_create(&path, Some(SIZE), false).unwrap();

    let t = Instant::now();
    let snap = b.snapshot(&[(0, SIZE)]).await.unwrap();
    let t_snap = t.elapsed();

    let src = File::open(&path).unwrap();
    let dst = File::create(m.dir().join("copy.img")).unwrap();
    let t = Instant::now();
    let mut buf = vec![0u8; MIB as usize];
    let mut off = 0;
    while off < SIZE {
        src.read_exact_at(&mut buf, off).unwrap();
        dst.write_all_at(&buf, off).unwrap();
        off += MIB;
    }
    let t_copy = t.elapsed();
    dst.sync_all().unwrap();
    let t_copy_sync = t.elapsed();
    println!(
        "1 GiB on XFS: snapshot {t_snap:?}; plain copy {t_copy:?} (page cache), {t_copy_sync:?} with fsync"
    );
    for off in [0, SIZE / 2 + 4096, SIZE - 4096] {
        let got = snap.read(off, 8).await.unwrap();
        assert_eq!(&got[..], &off.to_le_bytes());
    }
    assert!(t_snap < Duration::from_secs(1), "snapshot took {t_snap:?}");
    assert!(
        t_snap * 5 < t_copy,
        "snapshot {t_snap:?} vs copy {t_copy:?}"
    );
}

/// A read-only LU larger than its file: the snapshot of a range across the
/// file's unaligned end holds the file's bytes, then zeroes, as the LU reads.
/// Through a FaultBackend too, which forwards snapshot().
#[tokio::test]
#[ignore = "needs root: loop-mounts XFS"]
async fn xfs_snapshot_across_the_end_of_a_short_file_reads_zeroes_past_it() {
    const FILE_LEN: u64 = MIB + 1000;
    const SIZE: u64 = 2 * MIB;
    let m = XfsMount::new(512 * MIB);
    let path = m.dir().join("short.img");
    write_pattern(&path, 5, FILE_LEN);
    let ro: std::sync::Arc<dyn Backend> =
        std::sync::Arc::new(FileBackend::open_or_create(&path, Some(SIZE), true).unwrap());
    let b = crate::backend::FaultBackend::new(ro);
    assert!(b.capabilities().point_in_time);
    let ranges = [(MIB - 512, 4096), (SIZE - 512, 512), (3 * 512, 512)];
    let snap = b.snapshot(&ranges).await.unwrap();
    let mut expect = pattern(5, MIB - 512, 1512);
    expect.resize(4096 + 512, 0);
    expect.extend(pattern(5, 3 * 512, 512));
    let got = snap.read(0, expect.len()).await.unwrap();
    assert!(
        got[..] == expect[..],
        "file bytes, then zeroes past its end"
    );
    let direct = b.read(MIB - 512, 4096).await.unwrap();
    assert!(direct[..] == expect[..4096], "the LU reads the same");
}
