//! The `kite` command line.

fn main() {}
