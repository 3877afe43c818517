//! The values behind one capability's guest resources (stores, connections), by rep.
//!
//! Each capability owns its table, so it needs nothing of the instance's other state; the
//! guest sees only the rep inside a `Resource<T>` of the generated bindings.

/// A capability's live resources, at most `capacity` at once.
pub struct Table<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    capacity: usize,
}

/// The table already holds `capacity` resources.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

impl<T> Table<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            capacity,
        }
    }

    /// Stores `value` and returns its rep.
    pub fn push(&mut self, value: T) -> Result<u32, Full> {
        if let Some(rep) = self.free.pop() {
            self.slots[rep as usize] = Some(value);
            return Ok(rep);
        }
        if self.slots.len() >= self.capacity {
            return Err(Full);
        }
        self.slots.push(Some(value));
        Ok((self.slots.len() - 1) as u32)
    }

    pub fn get(&self, rep: u32) -> Option<&T> {
        self.slots.get(rep as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, rep: u32) -> Option<&mut T> {
        self.slots.get_mut(rep as usize)?.as_mut()
    }

    pub fn remove(&mut self, rep: u32) -> Option<T> {
        let value = self.slots.get_mut(rep as usize)?.take()?;
        self.free.push(rep);
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reps_are_reused_and_capacity_holds() {
        let mut t = Table::new(2);
        let a = t.push("a").unwrap();
        let b = t.push("b").unwrap();
        assert_eq!(t.push("c"), Err(Full));
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.remove(a), None, "a rep is removed once");
        assert_eq!(t.get(a), None);
        let c = t.push("c").unwrap();
        assert_eq!(c, a, "a freed rep is used again");
        assert_eq!(t.get(b), Some(&"b"));
        *t.get_mut(c).unwrap() = "d";
        assert_eq!(t.get(c), Some(&"d"));
        assert_eq!(t.get(99), None);
    }
}
