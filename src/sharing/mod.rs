//! Sharing: changing who may read and write a dataset (new signed policies) and reporting
//! who could read what. Whether a policy is in force is decided by [`crate::rules`].

pub mod access;
pub mod change;
