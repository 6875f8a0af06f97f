//! (filled in by the transport parameter work)
