//! Sharing: the chain of signed policies that says who may read and write a dataset
//! (spec/format.md, "Policy chain").

pub mod access;
pub mod chain;
pub mod change;
