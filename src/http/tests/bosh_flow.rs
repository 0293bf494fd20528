//! BOSH flows.
