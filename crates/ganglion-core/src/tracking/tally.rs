//! What a roll-up counts: items per state, done, late and overdue, and any number of
//! metrics, each aggregated by its own rule.

use super::workflow::MAX_STATES;

/// How a metric's values are aggregated over units (and, for periodic reports, over
/// periods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    Sum,
    Avg,
    Min,
    Max,
    /// A stock, such as members: per unit the value of the last period, summed over
    /// units. Over the items of one period this is their sum.
    Last,
}

impl Aggregate {
    pub const ALL: [Aggregate; 5] = [
        Aggregate::Sum,
        Aggregate::Avg,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::Last,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Last => "last",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// What a tally keeps of one metric: enough for every [`Aggregate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricTally {
    pub sum: f64,
    /// How many items reported a value.
    pub count: u32,
    pub min: f64,
    pub max: f64,
}

impl Default for MetricTally {
    fn default() -> Self {
        Self {
            sum: 0.0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl MetricTally {
    /// Counts one item's value; `NaN` is "no value reported".
    pub fn add_value(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        self.sum += value;
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    pub fn merge(&mut self, other: &MetricTally) {
        self.sum += other.sum;
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The aggregate of the values counted; `None` where none was reported.
    pub fn value(&self, aggregate: Aggregate) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        Some(match aggregate {
            Aggregate::Sum | Aggregate::Last => self.sum,
            Aggregate::Avg => self.sum / f64::from(self.count),
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
        })
    }
}

/// The counts of a set of items: a unit's subtree, or a block of the columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Items per state, indexed by the state's id in its workflow.
    pub states: [u32; MAX_STATES],
    /// Items in a done state.
    pub done: u32,
    /// Of those, the ones that reached it after their deadline.
    pub late: u32,
    /// Items not done whose deadline has passed, as of the time the tally was taken.
    pub overdue: u32,
    /// One per metric of the source, in its order.
    pub metrics: Vec<MetricTally>,
}

impl Tally {
    pub fn with_metrics(metric_count: usize) -> Self {
        Self {
            metrics: vec![MetricTally::default(); metric_count],
            ..Self::default()
        }
    }

    pub fn total(&self) -> u32 {
        self.states.iter().sum()
    }

    pub fn count(&self, state: super::StateId) -> u32 {
        self.states.get(state as usize).copied().unwrap_or(0)
    }

    /// Done by their deadline (or with none).
    pub fn on_time(&self) -> u32 {
        self.done - self.late
    }

    /// Not done.
    pub fn open(&self) -> u32 {
        self.total() - self.done
    }

    /// The first metric's tally, for sources with one metric (a directive's).
    pub fn metric(&self) -> MetricTally {
        self.metrics.first().copied().unwrap_or_default()
    }

    pub fn add(&mut self, other: &Tally) {
        for (mine, theirs) in self.states.iter_mut().zip(other.states) {
            *mine += theirs;
        }
        self.done += other.done;
        self.late += other.late;
        self.overdue += other.overdue;
        if self.metrics.len() < other.metrics.len() {
            self.metrics
                .resize(other.metrics.len(), MetricTally::default());
        }
        for (mine, theirs) in self.metrics.iter_mut().zip(&other.metrics) {
            mine.merge(theirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aggregate_reads_what_it_needs() {
        let mut metric = MetricTally::default();
        assert_eq!(metric.value(Aggregate::Sum), None);
        for value in [4.0, f64::NAN, 1.0, 7.0] {
            metric.add_value(value);
        }
        assert_eq!(metric.value(Aggregate::Sum), Some(12.0));
        assert_eq!(metric.value(Aggregate::Last), Some(12.0));
        assert_eq!(metric.value(Aggregate::Avg), Some(4.0));
        assert_eq!(metric.value(Aggregate::Min), Some(1.0));
        assert_eq!(metric.value(Aggregate::Max), Some(7.0));
        for aggregate in Aggregate::ALL {
            assert_eq!(Aggregate::parse(aggregate.as_str()), Some(aggregate));
        }
    }
}
