//! The random numbers of `nnderive vary`: SplitMix64 (Steele, Lea and
//! Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the
//! constants of Vigna's reference `splitmix64.c`), written out here so that
//! the variants drawn from a seed never change with a crate's version.

use num_bigint::BigUint;

/// The golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// What separates the streams of two variants: variant k draws from a
/// generator seeded with `seed + k · STREAM` (an odd constant, so the
/// streams' starting points are distinct for every k below 2^64).
const STREAM: u64 = 0xD1B5_4A32_D192_ED03;

/// A SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The generator of variant `k` (from 1) of a run with this seed: the
    /// numbers of variant k do not depend on how many variants are drawn.
    pub fn for_variant(seed: u64, k: u64) -> SplitMix64 {
        SplitMix64::new(seed.wrapping_add(k.wrapping_mul(STREAM)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A whole number uniformly from 0 to `n − 1` (`n` > 0), without the
    /// bias of a plain remainder: draws past the largest multiple of n are
    /// drawn again.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let n = n.max(1);
        let limit = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < limit {
                return x % n;
            }
        }
    }

    /// A whole number uniformly from 0 to `n − 1` for any `n` > 0: as many
    /// random bits as `n − 1` has, drawn again while the number is ≥ n
    /// (fewer than two tries on average).
    pub fn below_big(&mut self, n: &BigUint) -> BigUint {
        if let Some(small) = u64::try_from(n).ok().filter(|&s| s > 0) {
            return BigUint::from(self.below(small));
        }
        let bits = (n - 1u32).bits();
        let words = bits.div_ceil(64) as usize;
        loop {
            let mut digits: Vec<u64> = (0..words).map(|_| self.next_u64()).collect();
            let spare = words as u64 * 64 - bits;
            if let Some(top) = digits.last_mut() {
                *top >>= spare;
            }
            let x =
                BigUint::from_slice(&digits.iter().flat_map(|d| [*d as u32, (*d >> 32) as u32]).collect::<Vec<_>>());
            if &x < n {
                return x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs of SplitMix64 from seed 1234567, as Rosetta Code's
    /// "Pseudo-random numbers/Splitmix64" task lists them (and a ten-line
    /// Python transcription of `splitmix64.c` prints): a port must
    /// reproduce them bit for bit.
    #[test]
    fn matches_the_reference_implementation() {
        let mut g = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..5).map(|_| g.next_u64()).collect();
        assert_eq!(
            got,
            [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821]
        );
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut g = SplitMix64::new(7);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[g.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
        let big = BigUint::from(3u32) << 100;
        for _ in 0..100 {
            assert!(g.below_big(&big) < big);
        }
    }
}
