//! Which nodes changed, in order: every change to a node's row gets the next number, and a
//! reader that remembers the number it has seen asks for the nodes changed since. The
//! leader's placement keeps its model of the farm up to date this way, refreshing only the
//! nodes that changed instead of rebuilding the model of every node each round.
//!
//! Derived, not replicated: it starts empty when a state is loaded, and holds one entry per
//! node at most (a node's older numbers are dropped when it changes again).

use std::collections::BTreeMap;

use super::model::NodeId;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeChanges {
    /// The number the next change gets; also the cursor of a reader that has seen them all.
    next: u64,
    /// Each changed node under the number of its latest change.
    by_number: BTreeMap<u64, NodeId>,
    /// Each changed node's latest number.
    number_of: BTreeMap<NodeId, u64>,
}

impl NodeChanges {
    /// Notes that `node` changed.
    pub fn record(&mut self, node: NodeId) {
        let number = self.next;
        self.next += 1;
        if let Some(previous) = self.number_of.insert(node, number) {
            self.by_number.remove(&previous);
        }
        self.by_number.insert(number, node);
    }

    /// Where a reader that has seen every change so far stands.
    pub fn cursor(&self) -> u64 {
        self.next
    }

    /// The nodes changed at or after `cursor` (each once), oldest change first.
    pub fn since(&self, cursor: u64) -> impl Iterator<Item = NodeId> + '_ {
        self.by_number.range(cursor..).map(|(_, node)| *node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_sees_each_node_changed_since_its_cursor_once() {
        let mut changes = NodeChanges::default();
        changes.record(1);
        changes.record(2);
        let seen = changes.cursor();
        changes.record(3);
        changes.record(1);
        changes.record(3);
        assert_eq!(changes.since(seen).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(changes.since(0).collect::<Vec<_>>(), [2, 1, 3]);
        assert_eq!(changes.since(changes.cursor()).count(), 0);
    }
}
