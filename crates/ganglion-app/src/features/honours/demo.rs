//! Scenario 10: red-flag titles across the tree. Provinces award the Three-Revolution
//! Red Flag to primary and ri committees that excelled over a year, some of them again
//! in later years (twice, three times); counties name model primary committees; one
//! award is withdrawn, its grounds found wanting. Every award goes through the ordinary
//! use case, in the name of the unit above.

use ganglion_store::{UnitFilter, UnitRow};

use super::{NewTitle, Period, Withdrawal};
use crate::{App, AppError, Ctx};

/// What the honours demo left.
#[derive(Debug, Clone)]
pub struct HonoursDemo {
    pub awards: usize,
    pub withdrawn: usize,
}

pub(crate) const RED_FLAG: &str = "Three-Revolution Red Flag";
const MODEL_COMMITTEE: &str = "Model Primary Committee";

const GROUNDS: &[&str] = &[
    "Overfulfilled the year's production plan and led the county's emulation drive.",
    "Carried out the centre's decision on strengthening the primary committees in every cell, ahead of time.",
    "Raised the harvest per hectare above the county's average for the whole year.",
    "Modernized its production lines with its own forces and cut the coal consumed per tonne by a fifth.",
    "분조관리제를 바로 실시하여 알곡생산계획을 넘쳐 수행하였다.",
];

impl App {
    /// Awards scenario 10's titles.
    pub(crate) async fn play_honours_demo(&self, ctx: &Ctx) -> Result<HonoursDemo, AppError> {
        let units_of = |kind: &str| UnitFilter {
            kind: Some(kind.into()),
            ..UnitFilter::default()
        };
        let mut honoured: Vec<UnitRow> = self.store.units(&units_of("primary"), 40).await?;
        honoured.extend(self.store.units(&units_of("ri"), 40).await?);
        let year = self.today().year();
        let mut awards = Vec::new();
        // The last award to a unit honoured three times is withdrawn: it then holds the
        // title twice.
        let mut to_withdraw = None;
        for (index, unit) in honoured.iter().enumerate() {
            // Every other one; one in five of those again, one in ten three times.
            if index % 2 == 1 {
                continue;
            }
            let Some(county) = unit.parent else { continue };
            let Some(province) = self.tree().parent(county) else {
                continue;
            };
            let times = match index % 20 {
                0 | 10 => 3,
                4 | 14 | 8 => 2,
                _ => 1,
            };
            for round in 0..times {
                let awarded_year = year - 1 - (times - 1 - round);
                let award = self
                    .honours()
                    .award(
                        ctx,
                        NewTitle {
                            unit: unit.id.to_string(),
                            name: RED_FLAG.into(),
                            awarded_by: province.to_string(),
                            awarded_on: format!("{awarded_year}-12-28"),
                            period: Some(Period {
                                from: format!("{awarded_year}-01-01"),
                                to: format!("{awarded_year}-12-31"),
                            }),
                            grounds: GROUNDS[(index + round as usize) % GROUNDS.len()].into(),
                        },
                    )
                    .await?;
                if times == 3 && round == 2 && to_withdraw.is_none() {
                    to_withdraw = Some(award.award.id.clone());
                }
                awards.push(award.award.id);
            }
            if index % 6 == 2 {
                let award = self
                    .honours()
                    .award(
                        ctx,
                        NewTitle {
                            unit: unit.id.to_string(),
                            name: MODEL_COMMITTEE.into(),
                            awarded_by: county.to_string(),
                            awarded_on: format!("{}-06-15", year - 1),
                            period: None,
                            grounds: GROUNDS[(index + 3) % GROUNDS.len()].into(),
                        },
                    )
                    .await?;
                awards.push(award.award.id);
            }
        }
        let mut withdrawn = 0;
        if let Some(award) = &to_withdraw {
            self.honours()
                .withdraw(
                    ctx,
                    award,
                    Withdrawal {
                        reason: "A review found the reported figures inflated.".into(),
                    },
                )
                .await?;
            withdrawn += 1;
        }
        Ok(HonoursDemo {
            awards: awards.len(),
            withdrawn,
        })
    }
}
