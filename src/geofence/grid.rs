//! The locator's grid: most fixes are answered by two array reads and no polygon test.
//!
//! China is cut into tiles of `TILE`°. A tile that no county boundary crosses lies wholly inside
//! one county (or none) and stores it. A tile that a boundary crosses is cut into 8 × 8 cells,
//! each storing a county, none, or — where a boundary crosses the cell — the short list of
//! counties to test exactly. Boundaries are rasterised conservatively (every cell an edge touches,
//! with a margin), and the remaining cells are filled by scanlines through the same edge bands
//! that the exact test uses, so the grid and the exact test cannot disagree.

use super::load::County;

const TILE: f64 = 0.05;
const SUB: usize = 8;
const CELL: f64 = TILE / SUB as f64;
/// Margin around each edge when marking the cells it touches, in cells.
const MARGIN: f64 = 1e-6;

const NONE: u32 = u32::MAX;
const BOUNDARY: u32 = 0x8000_0000;
const DETAILED: u32 = 0x4000_0000;
const INDEX: u32 = 0x3FFF_FFFF;

pub struct Grid {
    x0: f64,
    y0: f64,
    /// Cells across and up (tiles × `SUB`).
    cells_w: usize,
    cells_h: usize,
    tiles_w: usize,
    tiles: Vec<u32>,
    detailed: Vec<[u32; SUB * SUB]>,
    /// Candidate lists of boundary cells: `candidates[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    candidates: Vec<u32>,
}

impl Grid {
    /// Builds the grid over `counties`; earlier counties win where boundaries overlap.
    pub fn build(counties: &[County]) -> Grid {
        let (mut x_min, mut y_min, mut x_max, mut y_max) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for c in counties {
            let b = c.bands.bbox();
            (x_min, y_min) = (x_min.min(b.min().x), y_min.min(b.min().y));
            (x_max, y_max) = (x_max.max(b.max().x), y_max.max(b.max().y));
        }
        if counties.is_empty() {
            (x_min, y_min, x_max, y_max) = (0.0, 0.0, 0.0, 0.0);
        }
        let x0 = (x_min / TILE).floor() * TILE - TILE;
        let y0 = (y_min / TILE).floor() * TILE - TILE;
        let tiles_w = ((x_max - x0) / TILE).ceil() as usize + 2;
        let tiles_h = ((y_max - y0) / TILE).ceil() as usize + 2;
        let mut grid = Grid {
            x0,
            y0,
            cells_w: tiles_w * SUB,
            cells_h: tiles_h * SUB,
            tiles_w,
            tiles: vec![NONE; tiles_w * tiles_h],
            detailed: Vec::new(),
            offsets: vec![0],
            candidates: Vec::new(),
        };
        grid.mark_boundaries(counties);
        grid.fill_interiors(counties);
        grid
    }

    /// Every cell that some edge touches, with the counties whose edges touch it. Rasterising
    /// a million edges is shared between the cores.
    fn mark_boundaries(&mut self, counties: &[County]) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let chunk = counties.len().div_ceil(threads).max(1);
        let this = &*self;
        let parts: Vec<Vec<u64>> = std::thread::scope(|s| {
            let handles: Vec<_> = counties
                .chunks(chunk)
                .enumerate()
                .map(|(n, part)| {
                    s.spawn(move || {
                        let mut marks = Vec::new();
                        for (i, county) in part.iter().enumerate() {
                            let index = (n * chunk + i) as u64;
                            super::pip::EdgeBands::for_each_edge(&county.shape, |a, b| {
                                this.touched_cells(a.x, a.y, b.x, b.y, |cell| {
                                    marks.push(u64::from(cell) << 32 | index)
                                });
                            });
                        }
                        marks.sort_unstable();
                        marks.dedup();
                        marks.shrink_to_fit();
                        marks
                    })
                })
                .collect();
            // A panic in a worker is a bug: re-raise it rather than build a grid with holes.
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        // Tiles to cut into cells, counted first so their blocks are allocated once.
        let mut cut = vec![false; self.tiles.len()];
        for &mark in parts.iter().flatten() {
            cut[self.tile_of((mark >> 32) as usize)] = true;
        }
        self.detailed.reserve_exact(cut.iter().filter(|&&c| c).count());
        drop(cut);
        // Lists `0..counties.len()` are the single counties, so that the common case, a cell
        // crossed by one county's boundary, needs no interning.
        for c in 0..counties.len() as u32 {
            self.candidates.push(c);
            self.offsets.push(self.candidates.len() as u32);
        }
        // Merge the sorted parts, one cell at a time, without a combined copy.
        let mut interned: std::collections::HashMap<Vec<u32>, u32> = std::collections::HashMap::new();
        let mut at = vec![0usize; parts.len()];
        let next_mark = |at: &mut Vec<usize>| {
            let p = (0..parts.len()).filter(|&p| at[p] < parts[p].len()).min_by_key(|&p| parts[p][at[p]])?;
            at[p] += 1;
            Some(parts[p][at[p] - 1])
        };
        let mut pending = next_mark(&mut at);
        let mut list = Vec::new();
        while let Some(first) = pending {
            let cell = (first >> 32) as u32;
            list.clear();
            list.push(first as u32);
            pending = next_mark(&mut at);
            while let Some(mark) = pending.filter(|m| (m >> 32) as u32 == cell) {
                list.push(mark as u32);
                pending = next_mark(&mut at);
            }
            let id = match list[..] {
                [single] => single,
                _ => {
                    let next = (self.offsets.len() - 1) as u32;
                    *interned.entry(list.clone()).or_insert_with(|| {
                        self.candidates.extend_from_slice(&list);
                        self.offsets.push(self.candidates.len() as u32);
                        next
                    })
                }
            };
            *self.cell_mut(cell as usize) = BOUNDARY | id;
        }
    }

    fn tile_of(&self, cell: usize) -> usize {
        let (row, col) = (cell / self.cells_w, cell % self.cells_w);
        (row / SUB) * self.tiles_w + col / SUB
    }

    /// Visits every cell the segment touches (a supercover with a small margin).
    fn touched_cells(&self, ax: f64, ay: f64, bx: f64, by: f64, mut visit: impl FnMut(u32)) {
        let (ax, ay) = ((ax - self.x0) / CELL, (ay - self.y0) / CELL);
        let (bx, by) = ((bx - self.x0) / CELL, (by - self.y0) / CELL);
        let row_lo = (ay.min(by) - MARGIN).floor().max(0.0) as usize;
        let row_hi = ((ay.max(by) + MARGIN).floor() as usize).min(self.cells_h - 1);
        for row in row_lo..=row_hi {
            // The part of the segment within this row (widened by the margin), as an x range.
            let (lo, hi) = (row as f64 - MARGIN, row as f64 + 1.0 + MARGIN);
            let (xa, xb) = if (by - ay).abs() < 1e-12 {
                (ax.min(bx), ax.max(bx))
            } else {
                let t0 = ((lo - ay) / (by - ay)).clamp(0.0, 1.0);
                let t1 = ((hi - ay) / (by - ay)).clamp(0.0, 1.0);
                let (x0, x1) = (ax + t0 * (bx - ax), ax + t1 * (bx - ax));
                (x0.min(x1), x0.max(x1))
            };
            let col_lo = (xa - MARGIN).floor().max(0.0) as usize;
            let col_hi = ((xb + MARGIN).floor() as usize).min(self.cells_w - 1);
            for col in col_lo..=col_hi {
                visit((row * self.cells_w + col) as u32);
            }
        }
    }

    fn cell_mut(&mut self, cell: usize) -> &mut u32 {
        let (row, col) = (cell / self.cells_w, cell % self.cells_w);
        let tile = self.tile_of(cell);
        if self.tiles[tile] & DETAILED == 0 || self.tiles[tile] == NONE {
            self.tiles[tile] = DETAILED | self.detailed.len() as u32;
            self.detailed.push([NONE; SUB * SUB]);
        }
        let block = (self.tiles[tile] & INDEX) as usize;
        &mut self.detailed[block][(row % SUB) * SUB + col % SUB]
    }

    /// Sets every unmarked tile and cell whose centre lies inside a county to that county.
    fn fill_interiors(&mut self, counties: &[County]) {
        let mut xs = Vec::new();
        for (index, county) in counties.iter().enumerate() {
            let b = county.bands.bbox();
            let row_lo = (((b.min().y - self.y0) / CELL).floor().max(0.0)) as usize;
            let row_hi = (((b.max().y - self.y0) / CELL).ceil() as usize).min(self.cells_h - 1);
            for row in row_lo..=row_hi {
                let y = self.y0 + (row as f64 + 0.5) * CELL;
                county.bands.crossings(y, &mut xs);
                let whole_tiles = row % SUB == SUB / 2;
                for span in xs.chunks_exact(2) {
                    self.fill_span(row, span[0], span[1], index as u32, whole_tiles);
                }
            }
        }
    }

    /// Fills the cells of `row` whose centres lie in `(xa, xb)`; on the row through the tiles'
    /// centres, whole unmarked tiles too.
    fn fill_span(&mut self, row: usize, xa: f64, xb: f64, county: u32, whole_tiles: bool) {
        let first = (((xa - self.x0) / CELL - 0.5).floor() + 1.0).max(0.0) as usize;
        let last = ((((xb - self.x0) / CELL - 0.5).ceil() - 1.0).max(-1.0)) as isize;
        if last < first as isize {
            return;
        }
        let last = (last as usize).min(self.cells_w - 1);
        let tile_row = (row / SUB) * self.tiles_w;
        let mut col = first;
        while col <= last {
            let tile = tile_row + col / SUB;
            let tile_end = (col / SUB + 1) * SUB - 1;
            let value = self.tiles[tile];
            if value != NONE && value & DETAILED != 0 && value & BOUNDARY == 0 {
                let block = (value & INDEX) as usize;
                for c in col..=tile_end.min(last) {
                    let i = (row % SUB) * SUB + c % SUB;
                    let cell = self.detailed[block][i];
                    if cell == NONE {
                        self.detailed[block][i] = county;
                    } else if cell & BOUNDARY != 0 {
                        // Another county's edge crosses this cell, but none of this county's: the
                        // cell lies wholly inside this county too (where boundaries from
                        // different sources overlap). Test it as a candidate as well.
                        self.detailed[block][i] = self.with_candidate(cell & INDEX, county);
                    }
                }
            } else if value == NONE && whole_tiles {
                // A tile without boundary cells lies wholly inside or outside each county: its
                // centre (on this row, at column SUB/2) decides.
                let centre = (col / SUB) * SUB + SUB / 2;
                if centre >= col && centre <= last {
                    self.tiles[tile] = county;
                }
            }
            col = tile_end + 1;
        }
    }

    /// The cell value for candidate list `list` plus `county`, kept in priority order.
    fn with_candidate(&mut self, list: u32, county: u32) -> u32 {
        let (start, end) = (self.offsets[list as usize] as usize, self.offsets[list as usize + 1] as usize);
        let mut merged = self.candidates[start..end].to_vec();
        if let Err(at) = merged.binary_search(&county) {
            merged.insert(at, county);
        } else {
            return BOUNDARY | list;
        }
        self.candidates.extend_from_slice(&merged);
        self.offsets.push(self.candidates.len() as u32);
        BOUNDARY | (self.offsets.len() - 2) as u32
    }

    /// The grid's answer at a WGS-84 position: `Some(Ok(county))`, `Some(Err(candidates))` to test
    /// exactly, or `None` outside every county.
    #[inline]
    pub fn lookup(&self, x: f64, y: f64) -> Option<Result<u32, &[u32]>> {
        let (fx, fy) = ((x - self.x0) / CELL, (y - self.y0) / CELL);
        if !(fx >= 0.0 && fy >= 0.0 && fx < self.cells_w as f64 && fy < self.cells_h as f64) {
            return None;
        }
        let (col, row) = (fx as usize, fy as usize);
        let mut value = self.tiles[(row / SUB) * self.tiles_w + col / SUB];
        if value != NONE && value & DETAILED != 0 && value & BOUNDARY == 0 {
            value = self.detailed[(value & INDEX) as usize][(row % SUB) * SUB + col % SUB];
        }
        match value {
            NONE => None,
            v if v & BOUNDARY != 0 => {
                let i = (v & INDEX) as usize;
                Some(Err(&self.candidates[self.offsets[i] as usize..self.offsets[i + 1] as usize]))
            }
            county => Some(Ok(county)),
        }
    }

    /// Heap bytes held, and the share of tiles cut into cells.
    pub fn stats(&self) -> (usize, f64) {
        let bytes = self.tiles.capacity() * 4
            + self.detailed.capacity() * SUB * SUB * 4
            + (self.offsets.capacity() + self.candidates.capacity()) * 4;
        (bytes, self.detailed.len() as f64 / self.tiles.len() as f64)
    }
}
