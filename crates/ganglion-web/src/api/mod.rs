pub(crate) mod access;
pub(crate) mod directives;
pub(crate) mod people;
pub(crate) mod programmes;
pub(crate) mod records;
pub(crate) mod tracking;
pub(crate) mod transfer;
pub(crate) mod units;
