pub(crate) mod transfer;
pub(crate) mod units;
