//! Randomness from the caller: the HTTP shell rolls the operating system's dice, a
//! deterministic simulation a seeded generator, and the core cannot tell the difference.

/// A source of uniformly random 64-bit values.
pub trait Dice {
    fn next_u64(&mut self) -> u64;
}

/// A small seeded generator (SplitMix64): the same seed, the same rolls, on every machine.
/// Good enough for simulations; not for secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl Dice for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Uniform in [0, 1): the top 53 bits.
pub(crate) fn unit(dice: &mut dyn Dice) -> f64 {
    (dice.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// `true` with probability `rate`. A rate of 0 rolls nothing, so a knob left off never
/// shifts the rolls a seeded run depends on.
pub(crate) fn chance(dice: &mut dyn Dice, rate: f64) -> bool {
    rate > 0.0 && unit(dice) < rate
}

/// Uniform in [0, bound] (bound 0 rolls nothing).
pub(crate) fn up_to(dice: &mut dyn Dice, bound: u64) -> u64 {
    if bound == 0 {
        0
    } else {
        dice.next_u64() % (bound + 1)
    }
}

/// 32 lower-case hex digits, the tail of every id.
pub(crate) fn hex32(dice: &mut dyn Dice) -> String {
    format!("{:016x}{:016x}", dice.next_u64(), dice.next_u64())
}

/// Fisher–Yates with the caller's dice.
pub(crate) fn shuffle<T>(dice: &mut dyn Dice, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (dice.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_rolls_the_same() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let rolls: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(rolls, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(rolls[0], SplitMix64::new(8).next_u64());
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut dice = SplitMix64::new(1);
        for _ in 0..1000 {
            assert!((0.0..1.0).contains(&unit(&mut dice)));
            assert!(up_to(&mut dice, 10) <= 10);
        }
        assert!(!chance(&mut dice, 0.0));
        assert!(chance(&mut dice, 1.0));
        let id = hex32(&mut dice);
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn zero_rates_and_bounds_roll_nothing() {
        let mut dice = SplitMix64::new(3);
        let before = dice.clone();
        chance(&mut dice, 0.0);
        up_to(&mut dice, 0);
        assert_eq!(dice, before);
    }

    #[test]
    fn shuffle_keeps_every_item() {
        let mut dice = SplitMix64::new(9);
        let mut items: Vec<u32> = (0..20).collect();
        shuffle(&mut dice, &mut items);
        assert_ne!(items, (0..20).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..20).collect::<Vec<_>>());
    }
}
