//! Point in polygon without a linear scan: the edges of every ring of a (multi)polygon are
//! bucketed into horizontal bands, so a crossing-number test looks only at the few edges of the
//! band that holds the point's latitude. The same bands give the crossings of a horizontal line,
//! which fills the locator's grid by scanlines.

use geo::{Coord, MultiPolygon, Rect};

#[derive(Debug, Clone, Copy)]
struct Edge {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Edge {
    /// Whether a rightward ray from `(x, y)` crosses this edge, with the half-open rule that makes
    /// a vertex count once: the standard crossing-number test, as geo's `contains` agrees with
    /// everywhere off the boundary itself.
    #[inline]
    fn crosses(&self, y: f64) -> bool {
        (self.y0 > y) != (self.y1 > y)
    }

    #[inline]
    fn x_at(&self, y: f64) -> f64 {
        self.x0 + (y - self.y0) * (self.x1 - self.x0) / (self.y1 - self.y0)
    }
}

pub struct EdgeBands {
    bbox: Rect<f64>,
    y0: f64,
    inv_band: f64,
    /// `offsets[b]..offsets[b + 1]` are the edges of band `b`.
    offsets: Vec<u32>,
    edges: Vec<Edge>,
}

impl EdgeBands {
    pub fn new(shape: &MultiPolygon<f64>) -> Self {
        let mut all = Vec::new();
        for polygon in shape {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for line in ring.lines() {
                    if line.start.y != line.end.y {
                        all.push(Edge { x0: line.start.x, y0: line.start.y, x1: line.end.x, y1: line.end.y });
                    }
                }
            }
        }
        let bbox = bounds(shape);
        // About eight edges a band keeps each test short while long edges, which repeat in every
        // band they span, do not multiply the memory.
        let bands = (all.len() / 8).clamp(1, 1 << 14);
        let height = (bbox.max().y - bbox.min().y).max(f64::EPSILON);
        let inv_band = bands as f64 / height;
        let band_of = |y: f64| (((y - bbox.min().y) * inv_band) as usize).min(bands - 1);
        let mut counts = vec![0u32; bands + 1];
        for e in &all {
            for b in band_of(e.y0.min(e.y1))..=band_of(e.y0.max(e.y1)) {
                counts[b + 1] += 1;
            }
        }
        for b in 0..bands {
            counts[b + 1] += counts[b];
        }
        let mut fill = counts.clone();
        let mut edges = vec![Edge { x0: 0.0, y0: 0.0, x1: 0.0, y1: 0.0 }; counts[bands] as usize];
        for e in &all {
            for b in band_of(e.y0.min(e.y1))..=band_of(e.y0.max(e.y1)) {
                edges[fill[b] as usize] = *e;
                fill[b] += 1;
            }
        }
        EdgeBands { bbox, y0: bbox.min().y, inv_band, offsets: counts, edges }
    }

    pub fn bbox(&self) -> Rect<f64> {
        self.bbox
    }

    #[inline]
    fn band(&self, y: f64) -> &[Edge] {
        let bands = self.offsets.len() - 1;
        let b = (((y - self.y0) * self.inv_band) as usize).min(bands - 1);
        &self.edges[self.offsets[b] as usize..self.offsets[b + 1] as usize]
    }

    /// Strictly inside (a point exactly on an edge may go either way).
    #[inline]
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let (min, max) = (self.bbox.min(), self.bbox.max());
        if !(x >= min.x && x <= max.x && y >= min.y && y <= max.y) {
            return false;
        }
        let mut inside = false;
        for e in self.band(y) {
            if e.crosses(y) && x < e.x_at(y) {
                inside = !inside;
            }
        }
        inside
    }

    /// The sorted x positions where the horizontal line at `y` crosses the boundary: the shape's
    /// interior on that line is `(x[0], x[1])`, `(x[2], x[3])`, …
    pub fn crossings(&self, y: f64, out: &mut Vec<f64>) {
        out.clear();
        if y < self.bbox.min().y || y > self.bbox.max().y {
            return;
        }
        out.extend(self.band(y).iter().filter(|e| e.crosses(y)).map(|e| e.x_at(y)));
        out.sort_unstable_by(f64::total_cmp);
    }

    /// Every edge, once, for rasterising the boundary.
    pub fn for_each_edge(shape: &MultiPolygon<f64>, mut f: impl FnMut(Coord<f64>, Coord<f64>)) {
        for polygon in shape {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for line in ring.lines() {
                    f(line.start, line.end);
                }
            }
        }
    }

    /// Heap bytes held, for the memory report.
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.edges.capacity() * std::mem::size_of::<Edge>()
    }
}

pub fn bounds(shape: &MultiPolygon<f64>) -> Rect<f64> {
    use geo::BoundingRect;
    shape.bounding_rect().unwrap_or_else(|| Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 }))
}

#[cfg(test)]
mod tests {
    use geo::{polygon, Contains, Point};

    use super::*;

    fn square_with_hole() -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)],
            interiors: [[(x: 4.0, y: 4.0), (x: 6.0, y: 4.0), (x: 6.0, y: 6.0), (x: 4.0, y: 6.0)]],
        )])
    }

    #[test]
    fn holes_are_outside() {
        let bands = EdgeBands::new(&square_with_hole());
        assert!(bands.contains(1.0, 1.0));
        assert!(!bands.contains(5.0, 5.0));
        assert!(!bands.contains(11.0, 5.0));
        let mut xs = Vec::new();
        bands.crossings(5.0, &mut xs);
        assert_eq!(xs, [0.0, 4.0, 6.0, 10.0]);
    }

    #[test]
    fn agrees_with_geo_on_a_grid_of_points() {
        let shape = square_with_hole();
        let bands = EdgeBands::new(&shape);
        for i in 0..120 {
            for j in 0..120 {
                let (x, y) = (i as f64 * 0.1 - 0.95, j as f64 * 0.1 - 0.95);
                assert_eq!(bands.contains(x, y), shape.contains(&Point::new(x, y)), "({x}, {y})");
            }
        }
    }
}
