//! Scenario 7 of the sample organization, the regional development programme "20×10",
//! played over the years it has run so far; and, for scenario 12's page of what is
//! overdue, a letter of pledge some counties have not yet fulfilled.
//!
//! The history is written as it would have been: the app's clock is set to each day a
//! milestone was reached, so the projects' histories and done times fall over the
//! years, not on the day the demo ran.

use ganglion_core::{Kind, Post, Principal, Role, UnitId};
use time::{Date, Month};

use crate::{
    App, AppError, Ctx, ListUnits, ManualClock, NewDirective, NewProgramme, ProgrammeMetric,
    Target, Transition,
};

/// What scenario 7 and 12 left in the demo.
#[derive(Debug, Clone)]
pub struct ProgrammeDemo {
    pub programme: String,
    pub projects: usize,
    pub pledge: String,
}

/// A number from 0 to 99, the same for the same inputs.
fn dice(a: i64, b: u64) -> u64 {
    let mut x =
        (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    x % 100
}

fn day(year: i32, month: Month, day: u8) -> Option<Date> {
    Date::from_calendar_date(year, month, day).ok()
}

/// The milestones a project of `year` had reached by `today`, each with its day.
fn milestones(year: i32, today: Date, roll: u64) -> Vec<(&'static str, Date)> {
    let plan = [
        ("ground_broken", day(year, Month::March, 15)),
        ("under_construction", day(year, Month::June, 2)),
        ("completed", day(year, Month::October, 20)),
        ("in_operation", day(year, Month::December, 10)),
    ];
    // Some projects are slow: they stop short of the last milestones; this year's
    // are spread over the milestones.
    let reached = if year == today.year() {
        (roll % 4) as usize
    } else {
        match roll {
            0..=7 => 2,
            8..=15 => 3,
            _ => 4,
        }
    };
    plan.into_iter()
        .take(reached)
        .filter_map(|(state, date)| Some((state, date?)))
        .filter(|(_, date)| *date <= today)
        .collect()
}

/// The secretary of a unit, as the demo acts for them.
fn secretary_of(ctx: &Ctx, unit: UnitId) -> Ctx {
    Ctx {
        principal: Principal {
            admin: false,
            posts: vec![Post {
                unit,
                role: Role::Secretary,
            }],
        },
        ..ctx.clone()
    }
}

impl App {
    /// Plays scenario 7 (a ten-year programme, twenty counties a year, a factory in
    /// each, hospitals and leisure complexes in its later years) and the pledge of
    /// scenario 12, through the ordinary use cases.
    pub(crate) async fn play_programme_demo(&self, ctx: &Ctx) -> Result<ProgrammeDemo, AppError> {
        let today = self.today();
        let start_year = today.year() - 3;
        let clock = ManualClock::at(
            day(start_year, Month::January, 12)
                .unwrap_or(today)
                .midnight()
                .assume_utc()
                + time::Duration::hours(9),
        );
        let past = self.clone().with_clock(clock.clone());
        let centre = past.unit_by_code(ctx, "C").await?;
        let mut counties = Vec::new();
        let mut cursor = None;
        loop {
            let page = past
                .list_units(
                    ctx,
                    ListUnits {
                        kind: Some("city_county".into()),
                        limit: Some(1000),
                        cursor: cursor.clone(),
                        ..ListUnits::default()
                    },
                )
                .await?;
            counties.extend(page.items.into_iter().map(|unit| (unit.id, unit.code)));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if counties.is_empty() {
            return Err(AppError::Internal("the demo has no counties".into()));
        }
        let programme = past
            .programmes()
            .create(
                ctx,
                NewProgramme {
                    owner: centre.id.clone(),
                    title: "20×10 regional development".into(),
                    start_year,
                    years: 10,
                    description: Some(
                        "Twenty counties a year for ten years, a modern regional-industry \
                         factory in each; from the sixth year on, a county hospital and a \
                         leisure complex too."
                            .into(),
                    ),
                    metrics: Some(vec![ProgrammeMetric {
                        key: "capacity".into(),
                        name: "Capacity".into(),
                        unit: "t/year".into(),
                        aggregate: None,
                    }]),
                },
            )
            .await?;
        let mut csv = String::from("unit_code,year,kind,title,due\n");
        for index in 0..10 {
            let year = start_year + index;
            for slot in 0..20 {
                let (_, code) = &counties[(index as usize * 20 + slot) % counties.len()];
                csv.push_str(&format!(
                    "{code},{year},factory,{code} regional-industry factory,\n"
                ));
                if index >= 5 && slot < 6 {
                    csv.push_str(&format!("{code},{year},hospital,{code} county hospital,\n"));
                    csv.push_str(&format!(
                        "{code},{year},leisure_complex,{code} leisure complex,\n"
                    ));
                }
            }
        }
        let added = past
            .programmes()
            .import_projects(ctx, &programme.id, csv.as_bytes())
            .await?;
        // Each project's milestones, on their days, by its county's secretary.
        let mut moves: Vec<(Date, Ctx, String, Transition)> = Vec::new();
        let mut cursor = None;
        loop {
            let page = past
                .programmes()
                .projects(
                    ctx,
                    &programme.id,
                    crate::ProjectQuery {
                        limit: Some(1000),
                        cursor: cursor.clone(),
                        ..crate::ProjectQuery::default()
                    },
                )
                .await?;
            for project in &page.items {
                let unit: UnitId = project
                    .unit
                    .parse()
                    .map_err(|_| AppError::Internal("a project's unit".into()))?;
                let item: i64 = project.id.parse().unwrap_or_default();
                let secretary = secretary_of(ctx, unit);
                for (state, date) in milestones(project.year, today, dice(item, 7)) {
                    let metrics = (state == "in_operation").then(|| {
                        std::collections::BTreeMap::from([(
                            "capacity".to_owned(),
                            (8 + dice(item, 3) / 4) as f64 * 100.0,
                        )])
                    });
                    moves.push((
                        date,
                        secretary.clone(),
                        project.id.clone(),
                        Transition {
                            to: state.into(),
                            note: None,
                            metric_value: None,
                            metrics,
                        },
                    ));
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        moves.sort_by_key(|(date, ..)| *date);
        let mut moves = moves.into_iter().peekable();
        while let Some((date, ..)) = moves.peek() {
            let date = *date;
            clock.set(date.midnight().assume_utc() + time::Duration::hours(10));
            let mut batch = Vec::new();
            while let Some(step) = moves.next_if(|(d, ..)| *d == date) {
                batch.push((step.1, step.2, step.3));
            }
            for result in past.directives().transition_many(ctx, batch).await? {
                result?;
            }
        }

        // Scenario 12: a letter of pledge from the first short course, due ten days ago;
        // a third of the counties have not reported it fulfilled.
        clock.set(self.now() - time::Duration::days(40));
        let pledged: Vec<String> = counties.iter().take(30).map(|(id, _)| id.clone()).collect();
        let pledge = past
            .directives()
            .create(
                ctx,
                NewDirective {
                    issuer: centre.id.clone(),
                    kind: Some(Kind::Pledge.as_str().into()),
                    title: "Letter of pledge of the first short course".into(),
                    body: "Each county committee carries out the letter of pledge adopted on \
                           the last day of the course and reports what it achieved."
                        .into(),
                    due: crate::clock::format_date(today - time::Duration::days(10)),
                    target: Some(Target {
                        units: pledged.clone(),
                        ..Target::default()
                    }),
                    metric: None,
                    parent_directive: None,
                },
            )
            .await?;
        past.directives().issue(ctx, &pledge.id).await?;
        let mut batch = Vec::new();
        let inbox_of = |county: &str| {
            let county = county.to_owned();
            let past = past.clone();
            let ctx = ctx.clone();
            async move {
                past.directives()
                    .inbox(&ctx, &county, crate::InboxQuery::default())
                    .await
            }
        };
        clock.set(self.now() - time::Duration::days(20));
        for (index, county) in pledged.iter().enumerate() {
            let Some(item) = inbox_of(county)
                .await?
                .items
                .into_iter()
                .find(|item| item.directive == pledge.id)
            else {
                continue;
            };
            let unit: UnitId = county
                .parse()
                .map_err(|_| AppError::Internal("a county's id".into()))?;
            let steps: &[&str] = match index % 3 {
                0 => &["acknowledged"],
                _ => &["acknowledged", "planned", "in_progress", "done"],
            };
            for step in steps {
                batch.push((
                    secretary_of(ctx, unit),
                    item.id.clone(),
                    Transition {
                        to: (*step).into(),
                        note: None,
                        metric_value: None,
                        metrics: None,
                    },
                ));
            }
        }
        for result in past.directives().transition_many(ctx, batch).await? {
            result?;
        }
        Ok(ProgrammeDemo {
            programme: programme.id,
            projects: added.created as usize,
            pledge: pledge.id,
        })
    }
}
