//! A sparse in-memory backend: the medium is a map of fixed-size pages;
//! an absent page reads as zeroes. Used for tests and for RAM disks.
//!
//! Deallocation drops whole pages and zeroes partial ones (a page that ends up
//! all zero is dropped too), so deallocated blocks always read zero (LBPRZ)
//! and the mapping reported to GET LBA STATUS has page granularity.

use super::{Backend, Capabilities, Extent};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use std::io;

/// Page size of the sparse map.
pub const PAGE_SIZE: u64 = 4096;

/// Sparse RAM disk.
pub struct MemoryBackend {
    size: u64,
    pages: DashMap<u64, Box<[u8]>>,
}

impl MemoryBackend {
    /// A zero-filled medium of `size` bytes (nothing is allocated up front).
    pub fn new(size: u64) -> Self {
        Self {
            size,
            pages: DashMap::new(),
        }
    }

    /// Bytes currently allocated for data pages (for tests and metrics).
    pub fn allocated_bytes(&self) -> u64 {
        (self.pages.len() as u64).saturating_mul(PAGE_SIZE)
    }

    fn check(&self, offset: u64, len: u64) -> io::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range beyond end of memory backend",
            )),
        }
    }

    /// Zero `[offset, offset+len)`, dropping every page that becomes (or is
    /// entirely) zero.
    fn deallocate(&self, offset: u64, len: u64) {
        let end = offset.saturating_add(len);
        let mut pos = offset;
        while pos < end {
            let page = pos / PAGE_SIZE;
            let in_page = pos % PAGE_SIZE;
            let n = (PAGE_SIZE - in_page).min(end - pos);
            if in_page == 0 && n == PAGE_SIZE {
                self.pages.remove(&page);
            } else {
                let mut now_zero = false;
                if let Some(mut p) = self.pages.get_mut(&page) {
                    let (a, b) = (in_page as usize, (in_page + n) as usize);
                    if let Some(s) = p.get_mut(a..b) {
                        s.fill(0);
                    }
                    now_zero = p.iter().all(|&b| b == 0);
                }
                if now_zero {
                    self.pages
                        .remove_if(&page, |_, p| p.iter().all(|&b| b == 0));
                }
            }
            pos += n;
        }
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn describe(&self) -> String {
        format!("memory:{}", self.size)
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            unmap: true,
            unmapped_reads_zero: true,
            write_zeroes: true,
            mapping_status: true,
            rotational: false,
            point_in_time: false,
        }
    }

    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        self.check(offset, len as u64)?;
        let mut out = BytesMut::zeroed(len);
        let mut done = 0usize;
        while done < len {
            let pos = offset + done as u64;
            let page = pos / PAGE_SIZE;
            let in_page = (pos % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - in_page).min(len - done);
            if let Some(p) = self.pages.get(&page) {
                if let (Some(dst), Some(src)) =
                    (out.get_mut(done..done + n), p.get(in_page..in_page + n))
                {
                    dst.copy_from_slice(src);
                }
            }
            done += n;
        }
        Ok(out.freeze())
    }

    async fn write(&self, offset: u64, data: Bytes, _fua: bool) -> io::Result<()> {
        self.check(offset, data.len() as u64)?;
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let page = pos / PAGE_SIZE;
            let in_page = (pos % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - in_page).min(data.len() - done);
            let mut p = self
                .pages
                .entry(page)
                .or_insert_with(|| vec![0u8; PAGE_SIZE as usize].into_boxed_slice());
            if let (Some(dst), Some(src)) =
                (p.get_mut(in_page..in_page + n), data.get(done..done + n))
            {
                dst.copy_from_slice(src);
            }
            done += n;
        }
        Ok(())
    }

    async fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    async fn unmap(&self, offset: u64, len: u64) -> io::Result<()> {
        self.check(offset, len)?;
        self.deallocate(offset, len);
        Ok(())
    }

    /// Zeroed blocks stay mapped (WRITE SAME without UNMAP): pages are
    /// allocated and zero filled.
    async fn write_zeroes(&self, offset: u64, len: u64) -> io::Result<()> {
        self.check(offset, len)?;
        let end = offset + len;
        let mut pos = offset;
        while pos < end {
            let page = pos / PAGE_SIZE;
            let in_page = pos % PAGE_SIZE;
            let n = (PAGE_SIZE - in_page).min(end - pos);
            let mut p = self
                .pages
                .entry(page)
                .or_insert_with(|| vec![0u8; PAGE_SIZE as usize].into_boxed_slice());
            if let Some(s) = p.get_mut(in_page as usize..(in_page + n) as usize) {
                s.fill(0);
            }
            pos += n;
        }
        Ok(())
    }

    async fn mapping(&self, offset: u64, len: u64) -> io::Result<Vec<Extent>> {
        let end = offset.saturating_add(len).min(self.size);
        let mut out: Vec<Extent> = Vec::new();
        let mut pos = offset;
        while pos < end {
            let page = pos / PAGE_SIZE;
            let n = (PAGE_SIZE - pos % PAGE_SIZE).min(end - pos);
            let mapped = self.pages.contains_key(&page);
            match out.last_mut() {
                Some(last) if last.mapped == mapped => last.len += n,
                _ => out.push(Extent {
                    offset: pos,
                    len: n,
                    mapped,
                }),
            }
            pos += n;
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn absent_pages_read_zero_and_writes_round_trip() {
        let m = MemoryBackend::new(3 * PAGE_SIZE);
        assert_eq!(&m.read(100, 10).await.unwrap()[..], &[0u8; 10]);
        let data: Vec<u8> = (0..6000u32).map(|i| i as u8).collect();
        m.write(PAGE_SIZE - 1000, Bytes::from(data.clone()), false)
            .await
            .unwrap();
        assert_eq!(m.read(PAGE_SIZE - 1000, 6000).await.unwrap(), data);
        assert_eq!(m.allocated_bytes(), 3 * PAGE_SIZE);
        assert!(m.read(3 * PAGE_SIZE - 1, 2).await.is_err());
        assert!(m
            .write(u64::MAX, Bytes::from_static(b"x"), false)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn unmap_drops_pages_and_zeroes_partial_ones() {
        let m = MemoryBackend::new(4 * PAGE_SIZE);
        m.write(0, Bytes::from(vec![0xAA; 4 * PAGE_SIZE as usize]), false)
            .await
            .unwrap();
        m.unmap(PAGE_SIZE / 2, 2 * PAGE_SIZE).await.unwrap();
        assert_eq!(m.allocated_bytes(), 3 * PAGE_SIZE);
        let r = m.read(0, 4 * PAGE_SIZE as usize).await.unwrap();
        let half = (PAGE_SIZE / 2) as usize;
        assert!(r[..half].iter().all(|&b| b == 0xAA));
        assert!(r[half..half + 2 * PAGE_SIZE as usize]
            .iter()
            .all(|&b| b == 0));
        assert!(r[half + 2 * PAGE_SIZE as usize..]
            .iter()
            .all(|&b| b == 0xAA));
        let map = m.mapping(0, 4 * PAGE_SIZE).await.unwrap();
        assert_eq!(
            map,
            vec![
                Extent {
                    offset: 0,
                    len: PAGE_SIZE,
                    mapped: true
                },
                Extent {
                    offset: PAGE_SIZE,
                    len: PAGE_SIZE,
                    mapped: false
                },
                Extent {
                    offset: 2 * PAGE_SIZE,
                    len: 2 * PAGE_SIZE,
                    mapped: true
                },
            ]
        );
        // Zeroing the rest of a partially zero page deallocates it.
        m.unmap(0, PAGE_SIZE / 2).await.unwrap();
        assert_eq!(m.allocated_bytes(), 2 * PAGE_SIZE);
    }

    #[tokio::test]
    async fn write_zeroes_keeps_blocks_mapped() {
        let m = MemoryBackend::new(2 * PAGE_SIZE);
        m.write_zeroes(0, 2 * PAGE_SIZE).await.unwrap();
        let map = m.mapping(0, 2 * PAGE_SIZE).await.unwrap();
        assert_eq!(
            map,
            vec![Extent {
                offset: 0,
                len: 2 * PAGE_SIZE,
                mapped: true
            }]
        );
        assert!(m.read(0, 8192).await.unwrap().iter().all(|&b| b == 0));
    }
}
