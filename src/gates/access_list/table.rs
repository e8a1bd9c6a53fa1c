//! Sorted, non-overlapping address ranges with binary search.
//!
//! CIDR blocks are either nested or disjoint (a laminar family), so the address space
//! they cover can be cut into disjoint segments, each labelled with a value derived
//! from the chain of blocks containing it (innermost entry, latest expiry, ...). A
//! lookup is then one binary search, whatever the number of entries.

/// An inclusive range of addresses (IPv4 keys are `u32` widened to `u128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Block<L> {
    pub start: u128,
    pub end: u128,
    pub label: L,
}

/// Disjoint segments sorted by start; parallel vectors keep the search array dense.
#[derive(Clone, Debug)]
pub(super) struct RangeTable<L> {
    starts: Vec<u128>,
    ends: Vec<u128>,
    labels: Vec<L>,
}

impl<L: Copy> RangeTable<L> {
    /// Label of the segment containing `key`, if any. No allocation.
    pub(super) fn lookup(&self, key: u128) -> Option<L> {
        let after = self.starts.partition_point(|start| *start <= key);
        let slot = after.checked_sub(1)?;
        if key <= *self.ends.get(slot)? {
            self.labels.get(slot).copied()
        } else {
            None
        }
    }

    #[cfg(test)]
    pub(super) fn segments(&self) -> usize {
        self.starts.len()
    }

    fn emit(&mut self, start: Option<u128>, end: u128, label: L) {
        // `start` is None once the cursor has moved past u128::MAX: nothing left.
        if let Some(start) = start {
            if start <= end {
                self.starts.push(start);
                self.ends.push(end);
                self.labels.push(label);
            }
        }
    }

    /// Cuts a laminar family of blocks into disjoint segments.
    ///
    /// `nest(outer, inner)` gives the label of the part of `inner` (which lies inside
    /// `outer`'s accumulated label). Blocks must be nested or disjoint, which holds for
    /// distinct CIDR blocks; identical blocks are tolerated (the later one nests).
    pub(super) fn build(mut blocks: Vec<Block<L>>, nest: impl Fn(L, L) -> L) -> Self {
        // Outer blocks first at equal starts, so that a parent is opened before its
        // children.
        blocks.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut table = Self {
            starts: Vec::with_capacity(blocks.len()),
            ends: Vec::with_capacity(blocks.len()),
            labels: Vec::with_capacity(blocks.len()),
        };
        // Open blocks, outermost at the bottom, each with its accumulated label.
        let mut open: Vec<(u128, L)> = Vec::new();
        // First address not yet emitted inside the innermost open block.
        let mut cursor: Option<u128> = Some(0);
        for block in blocks {
            while let Some(&(end, label)) = open.last() {
                if end >= block.start {
                    break;
                }
                open.pop();
                table.emit(cursor, end, label);
                cursor = end.checked_add(1);
            }
            let label = match open.last() {
                Some(&(_, outer)) => {
                    // The enclosing block's own addresses before this child starts.
                    if let Some(before) = block.start.checked_sub(1) {
                        table.emit(cursor, before, outer);
                    }
                    nest(outer, block.label)
                }
                None => block.label,
            };
            cursor = Some(block.start);
            open.push((block.end, label));
        }
        while let Some((end, label)) = open.pop() {
            table.emit(cursor, end, label);
            cursor = end.checked_add(1);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(start: u128, end: u128, label: u32) -> Block<u32> {
        Block { start, end, label }
    }

    #[test]
    fn nested_blocks_split_parent_around_child() {
        let table = RangeTable::build(
            vec![block(10, 19, 2), block(0, 99, 1), block(50, 50, 3)],
            |_, inner| inner,
        );
        assert_eq!(table.segments(), 5);
        let expect = [
            (0, Some(1)),
            (9, Some(1)),
            (10, Some(2)),
            (19, Some(2)),
            (20, Some(1)),
            (49, Some(1)),
            (50, Some(3)),
            (51, Some(1)),
            (99, Some(1)),
            (100, None),
        ];
        for (key, label) in expect {
            assert_eq!(table.lookup(key), label, "key {key}");
        }
    }

    #[test]
    fn child_sharing_start_and_end_with_parent() {
        let table = RangeTable::build(
            vec![block(0, 9, 1), block(0, 4, 2), block(5, 9, 3)],
            |_, inner| inner,
        );
        assert_eq!(table.lookup(0), Some(2));
        assert_eq!(table.lookup(4), Some(2));
        assert_eq!(table.lookup(5), Some(3));
        assert_eq!(table.lookup(9), Some(3));
        assert_eq!(table.segments(), 2);
    }

    #[test]
    fn whole_u128_space_does_not_overflow() {
        let table = RangeTable::build(
            vec![block(0, u128::MAX, 1), block(u128::MAX, u128::MAX, 2)],
            |outer, inner| outer.max(inner),
        );
        assert_eq!(table.lookup(0), Some(1));
        assert_eq!(table.lookup(u128::MAX - 1), Some(1));
        assert_eq!(table.lookup(u128::MAX), Some(2));
    }

    #[test]
    fn nest_combines_outer_and_inner_labels() {
        // Max-combination as used for temporary expiries: the inner block keeps the
        // outer's later expiry.
        let table = RangeTable::build(vec![block(0, 9, 7), block(3, 3, 5)], |o, i| o.max(i));
        assert_eq!(table.lookup(3), Some(7));
        let empty: RangeTable<u32> = RangeTable::build(Vec::new(), |_, i| i);
        assert_eq!(empty.lookup(0), None);
    }
}
