pub(crate) mod access;
pub(crate) mod directives;
pub(crate) mod errors;
pub(crate) mod people;
pub(crate) mod records;
pub(crate) mod transfer;
pub(crate) mod units;
