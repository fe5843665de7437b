//! The sample organization of SCENARIOS.md: a centre, 12 provincial committees and
//! equivalent committees, about 200 city and county committees, and under them primary
//! and ri committees, sub-primary committees and cells, scaled to any number of units.
//! Names are invented; some are in Korean so that both scripts are exercised.

use crate::ErrorCode;

use crate::{
    App, AppError, Ctx, ImportRow, ImportSummary, ListUnits, Metric, NewAccount, NewDirective,
    NewGuidance, NewPerson, NewPost, Progress, Target, Transition,
};

const PROVINCES: [&str; 12] = [
    "Namgang Provincial Committee",
    "Cholsan Provincial Committee",
    "Hwasong Provincial Committee",
    "Pukchong Provincial Committee",
    "Taebaek Provincial Committee",
    "Unsan Provincial Committee",
    "Kumgang Provincial Committee",
    "Sobaek Provincial Committee",
    "Myohyang Provincial Committee",
    "Haebang City Committee",
    "Songdo City Committee",
    "Ryonghung City Committee",
];

const EQUIVALENTS: [&str; 4] = [
    "Political Department of the Armed Forces",
    "Railway Committee",
    "Committee of the Merchant Fleet",
    "Committee of the Mining Complexes",
];

const SYLLABLES_A: [&str; 12] = [
    "Ok", "Chang", "Un", "Pyong", "Song", "Tae", "Hwa", "Kum", "Ryong", "Sam", "Mun", "Kap",
];
const SYLLABLES_B: [&str; 8] = ["san", "chon", "dok", "won", "ju", "ri", "gol", "dong"];
const HANGUL_A: [&str; 10] = ["청", "송", "은", "평", "금", "룡", "삼", "문", "대", "화"];
const HANGUL_B: [&str; 6] = ["산", "천", "덕", "원", "동", "골"];
const WORKS: [&str; 6] = [
    "Machine Works",
    "Textile Mill",
    "Cooperative Farm",
    "Power Station",
    "Ministry Office",
    "Fishery Station",
];

/// A sign-in of the demo organization, printed for whoever tries it.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub login: String,
    pub password: String,
    /// Who this is, e.g. "secretary of Namgang Provincial Committee".
    pub holds: String,
}

/// The password of every demo account; the demo is for trying Ganglion, not for use.
pub const DEMO_PASSWORD: &str = "demo-password";

/// How the demo organization is built; the default is the one SCENARIOS.md describes.
#[derive(Debug, Clone, Copy)]
pub struct DemoShape {
    pub units: u64,
}

impl Default for DemoShape {
    fn default() -> Self {
        Self { units: 10_000 }
    }
}

struct Rows {
    rows: Vec<ImportRow>,
    limit: usize,
}

impl Rows {
    /// Adds a row unless the organization is already as large as asked.
    fn push(
        &mut self,
        code: String,
        parent_code: &str,
        kind: &str,
        name: String,
        tags: &str,
    ) -> bool {
        if self.rows.len() >= self.limit {
            return false;
        }
        self.rows.push(ImportRow {
            line: self.rows.len() as u64 + 1,
            code,
            parent_code: parent_code.to_owned(),
            kind: kind.to_owned(),
            name,
            tags: tags.to_owned(),
        });
        true
    }

    fn full(&self) -> bool {
        self.rows.len() >= self.limit
    }

    /// Adds `count` cells under the unit with code `parent`.
    fn cells(&mut self, parent: &str, count: usize) {
        for cell in 1..=count {
            self.push(
                format!("{parent}-C{cell:02}"),
                parent,
                "cell",
                format!("Cell {cell}"),
                "",
            );
        }
    }
}

/// The rows of the demo organization, exactly `shape.units` of them, parents first.
pub fn demo_rows(shape: DemoShape) -> Vec<ImportRow> {
    let limit = shape.units as usize;
    let mut out = Rows {
        rows: Vec::with_capacity(limit),
        limit,
    };
    out.push("C".into(), "", "centre", "Central Committee".into(), "");
    for (index, name) in PROVINCES.iter().enumerate() {
        let code = format!("P{:02}", index + 1);
        let tags = format!("region:{}", code.to_ascii_lowercase());
        out.push(code, "C", "province", (*name).into(), &tags);
    }
    for (index, name) in EQUIVALENTS.iter().enumerate() {
        out.push(
            format!("E{:02}", index + 1),
            "C",
            "equivalent",
            (*name).into(),
            "",
        );
    }
    // About 200 city and county committees, fewer for a small organization so that
    // every county has something under it.
    let county_count = ((limit.saturating_sub(17)) / 40).clamp(12, 200);
    let mut counties = Vec::with_capacity(county_count);
    for index in 0..county_count {
        let province = index % PROVINCES.len();
        let parent = format!("P{:02}", province + 1);
        let code = format!("{parent}-K{:03}", index / PROVINCES.len() + 1);
        let name = format!(
            "{}{} {} Committee",
            SYLLABLES_A[index % SYLLABLES_A.len()],
            SYLLABLES_B[(index / SYLLABLES_A.len()) % SYLLABLES_B.len()],
            if index % 5 == 0 { "City" } else { "County" }
        );
        let tags = format!("region:{}", parent.to_ascii_lowercase());
        if out.push(code.clone(), &parent, "city_county", name, &tags) {
            counties.push((code, tags));
        }
    }
    // Primary-level units, one county after another, until the organization is full.
    let mut round = 0usize;
    while !out.full() && !counties.is_empty() {
        for (county_index, (county, region)) in counties.iter().enumerate() {
            if out.full() {
                break;
            }
            let seed = round * counties.len() + county_index;
            let code = format!("{county}-U{:03}", round + 1);
            match seed % 3 {
                // A ri committee of a rural district, with its cells.
                0 => {
                    let name = format!(
                        "{}{}리 위원회",
                        HANGUL_A[seed % HANGUL_A.len()],
                        HANGUL_B[(seed / HANGUL_A.len()) % HANGUL_B.len()]
                    );
                    out.push(code.clone(), county, "ri", name, &format!("rural;{region}"));
                    out.cells(&code, 3 + seed % 4);
                }
                // A primary committee of a factory, farm or office, with its cells.
                1 => {
                    let name = format!(
                        "{} {} Primary Committee",
                        SYLLABLES_A[(seed / 7) % SYLLABLES_A.len()],
                        WORKS[seed % WORKS.len()]
                    );
                    let tags = if WORKS[seed % WORKS.len()].contains("Farm") {
                        format!("rural;{region}")
                    } else {
                        format!("industry;{region}")
                    };
                    out.push(code.clone(), county, "primary", name, &tags);
                    out.cells(&code, 4 + seed % 5);
                }
                // A large enterprise: sub-primary committees per workshop, each with cells.
                _ => {
                    let name = format!(
                        "{} Complex Primary Committee",
                        SYLLABLES_A[(seed / 5) % SYLLABLES_A.len()]
                    );
                    out.push(
                        code.clone(),
                        county,
                        "primary",
                        name,
                        &format!("industry;{region}"),
                    );
                    for workshop in 0..2 + seed % 2 {
                        let sub = format!("{code}-S{:02}", workshop + 1);
                        out.push(
                            sub.clone(),
                            &code,
                            "sub_primary",
                            format!("Workshop {} Committee", workshop + 1),
                            "",
                        );
                        out.cells(&sub, 3 + seed % 3);
                    }
                }
            }
        }
        round += 1;
    }
    out.rows
}

impl App {
    /// Fills an empty organization with the sample organization.
    pub async fn fill_demo(
        &self,
        ctx: &Ctx,
        shape: DemoShape,
        progress: &dyn Progress,
    ) -> Result<ImportSummary, AppError> {
        if shape.units == 0 {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "units",
                "the demo needs at least one unit",
            ));
        }
        if self.template.name != "party" {
            return Err(AppError::Conflict {
                code: ErrorCode::WrongTemplate,
                message: format!(
                    "the demo organization is built on the party template; this database uses {}",
                    self.template.name
                ),
            });
        }
        if self.store.unit_count().await? > 0 {
            return Err(AppError::Conflict {
                code: ErrorCode::NotEmpty,
                message:
                    "the database already holds an organization; the demo fills only an empty one"
                        .into(),
            });
        }
        progress.stage("generating the organization", shape.units);
        let rows = demo_rows(shape);
        self.import_units(ctx, rows, progress).await
    }

    /// Appoints secretaries to the centre, the provinces and the counties, and makes
    /// accounts for a few of them, all through the ordinary use cases.
    pub async fn appoint_demo_people(&self, ctx: &Ctx) -> Result<Vec<DemoLogin>, AppError> {
        let mut logins = Vec::new();
        let mut top = Vec::new();
        for kind in ["centre", "province", "city_county"] {
            let filter = ganglion_store::UnitFilter {
                kind: Some(kind.into()),
                ..Default::default()
            };
            top.extend(self.store.units(&filter, 1000).await?);
        }
        let wanted_logins = [
            ("C", "centre", "secretary", "chief secretary"),
            ("P01", "p01-secretary", "secretary", "chief secretary"),
            (
                "P01-K001",
                "k001-official",
                "official",
                "official of the life guidance section",
            ),
            (
                "P01-K002",
                "k002-official",
                "official",
                "official of the life guidance section",
            ),
        ];
        let surnames = [
            "Kim", "Ri", "Pak", "Choe", "Jong", "Kang", "Han", "Ryu", "O", "Hong",
        ];
        let given = [
            "Chol", "Myong", "Song", "Yong", "Hyok", "Il", "Su", "Nam", "Gwang", "Jin",
        ];
        for (index, unit) in top.iter().enumerate() {
            let name = format!(
                "{} {}",
                surnames[index % surnames.len()],
                given[(index / surnames.len()) % given.len()]
            );
            let person = self
                .create_person(ctx, NewPerson { name: name.clone() })
                .await?;
            let wanted = wanted_logins.iter().find(|(code, ..)| *code == unit.code);
            let (role, title) = match wanted {
                Some((_, _, role, title)) => (*role, *title),
                None => ("secretary", "chief secretary"),
            };
            self.create_post(
                ctx,
                NewPost {
                    person: person.id.clone(),
                    unit: unit.id.to_string(),
                    role: role.into(),
                    title: Some(title.into()),
                    start: Some("2020-01-01".into()),
                },
            )
            .await?;
            if let Some((_, login, ..)) = wanted {
                self.create_account(
                    ctx,
                    NewAccount {
                        login: (*login).into(),
                        password: DEMO_PASSWORD.into(),
                        person: person.id,
                    },
                )
                .await?;
                logins.push(DemoLogin {
                    login: (*login).into(),
                    password: DEMO_PASSWORD.into(),
                    holds: format!("{name}, {title} of {} ({})", unit.name, unit.code),
                });
            }
        }
        Ok(logins)
    }
}

/// What the scenarios left in the demo organization.
#[derive(Debug, Clone)]
pub struct DemoScenarios {
    /// Scenario 1: the decision conveyed to every unit.
    pub decision: String,
    /// Scenario 2: the production goal for the rural ri committees.
    pub goal: String,
    pub plans: usize,
    pub reports: usize,
    /// Scenario 7: the regional development programme, and how many projects it has.
    pub programme: String,
    pub projects: usize,
    /// Scenario 12: a letter of pledge some counties are late with.
    pub pledge: String,
    /// Scenario 4: the experiences in the library, and the second short course's videos.
    pub experiences: usize,
    pub videos: usize,
    /// Scenario 10: the titles awarded, and those withdrawn.
    pub awards: usize,
    pub withdrawn_awards: usize,
}

/// A number from 0 to 99 that is the same for the same inputs: the demo's progress is
/// believable and repeatable.
fn dice(a: i64, b: u64) -> u64 {
    let mut x =
        (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    x % 100
}

/// The states a unit passes through to reach `target`, from conveyed.
fn path_to(target: &'static str) -> Vec<(&'static str, Option<&'static str>)> {
    let forward = ["acknowledged", "planned", "in_progress", "done"];
    match target {
        "conveyed" => Vec::new(),
        "blocked" => vec![
            ("acknowledged", None),
            (
                "blocked",
                Some("materials for the study sessions have not arrived"),
            ),
        ],
        target => {
            let last = forward.iter().position(|s| *s == target).unwrap_or(0);
            forward[..=last]
                .iter()
                .map(|state| (*state, None))
                .collect()
        }
    }
}

/// How many units at most receive scripted progress: enough to look alive at any size.
const PROGRESS_SAMPLE: usize = 6_000;

impl App {
    /// Plays scenarios 1 and 2 of the sample organization through the ordinary use
    /// cases: the centre's decision with guidance and county plans, and the production
    /// goal of the rural ri committees, with a believable spread of progress.
    pub async fn play_demo_scenarios(&self, ctx: &Ctx) -> Result<DemoScenarios, AppError> {
        let centre = self.unit_by_code(ctx, "C").await?;
        let today = crate::clock::parse_date(&self.today_text()).expect("today is a date");
        let date = |days: i64| crate::clock::format_date(today + time::Duration::days(days));

        // Scenario 1: the decision, conveyed to every unit, now past its due date.
        let decision = self
            .directives()
            .create(
                ctx,
                NewDirective {
                    kind: None,
                    issuer: centre.id.clone(),
                    title: "On strengthening the primary committees".into(),
                    body: "Every committee reviews the work of its primary committees and cells, \
                           holds a study session on the decision, and reports what it changed."
                        .into(),
                    due: date(-3),
                    target: None,
                    metric: None,
                    parent_directive: None,
                },
            )
            .await?;
        self.directives().issue(ctx, &decision.id).await?;
        let provinces = self
            .list_units(
                ctx,
                ListUnits {
                    kind: Some("province".into()),
                    ..ListUnits::default()
                },
            )
            .await?
            .items;
        for province in &provinces {
            self.directives()
                .add_guidance(
                    ctx,
                    &decision.id,
                    NewGuidance {
                        unit: province.id.clone(),
                        text: format!(
                            "{}: counties start with the ri committees and report every Friday.",
                            province.name
                        ),
                    },
                )
                .await?;
        }
        // Counties map out plans: tasks for their primary and ri committees.
        let mut plans = 0;
        for province in provinces.iter().take(4) {
            let counties = self.children(ctx, &province.id, Some(3), None).await?.items;
            for county in counties {
                let plan = self
                    .directives().create(
                        ctx,
                        NewDirective {
                            kind: None,
                            issuer: county.id.clone(),
                            title: format!("{}: study sessions in every primary committee", county.name),
                            body: "Each primary committee holds two study sessions and sends the list of participants.".into(),
                            due: date(12),
                            target: Some(Target {
                                under: None,
                                kinds: vec!["primary".into(), "ri".into()],
                                tags: Vec::new(),
                                units: Vec::new(),
                            }),
                            metric: None,
                            parent_directive: Some(decision.id.clone()),
                        },
                    )
                    .await?;
                self.directives().issue(ctx, &plan.id).await?;
                plans += 1;
            }
        }

        // Scenario 2: a production goal for the rural ri committees, in tonnes.
        let goal = self.directives()
            .create(
                ctx,
                NewDirective {
                    kind: None,
                    issuer: centre.id.clone(),
                    title: "Grain production goal for the rural ri committees".into(),
                    body: "Every rural ri committee reaches 120 tonnes of grain this season and reports its harvest.".into(),
                    due: date(30),
                    target: Some(Target {
                        under: None,
                        kinds: vec!["ri".into()],
                        tags: vec!["rural".into()],
                        units: Vec::new(),
                    }),
                    metric: Some(Metric {
                        name: "grain harvested".into(),
                        unit: "t".into(),
                        target_per_unit: 120.0,
                    }),
                    parent_directive: None,
                },
            )
            .await?;
        self.directives().issue(ctx, &goal.id).await?;

        // Progress: each unit acts as its own secretary would. Some provinces lag.
        let mut jobs = Vec::new();
        for (directive, with_metric) in [(&decision.id, false), (&goal.id, true)] {
            let id: i64 = directive.parse().unwrap_or_default();
            let mut assignments = Vec::new();
            self.store
                .for_each_item_of(
                    ganglion_store::SourceRef {
                        kind: ganglion_core::Kind::Directive,
                        source: id,
                        period: "",
                    },
                    |item| assignments.push((item.id, item.unit)),
                )
                .await?;
            assignments.sort();
            let step = (assignments.len() / PROGRESS_SAMPLE).max(1);
            for (assignment, unit) in assignments.into_iter().step_by(step) {
                let lag = dice(unit.get() / 97, 7) / 2; // a whole branch lags together
                let roll = dice(unit.get(), id as u64).saturating_sub(lag / 2);
                let target = match roll {
                    0..=14 => "conveyed",
                    15..=19 => "blocked",
                    20..=29 => "acknowledged",
                    30..=39 => "planned",
                    40..=59 => "in_progress",
                    _ => "done",
                };
                let secretary = Ctx {
                    principal: ganglion_core::Principal {
                        admin: false,
                        posts: vec![ganglion_core::Post {
                            unit,
                            role: ganglion_core::Role::Secretary,
                        }],
                    },
                    ..ctx.clone()
                };
                for (state, note) in path_to(target) {
                    let metric_value = (with_metric && matches!(state, "in_progress" | "done"))
                        .then(|| {
                            let harvest = 60 + dice(unit.get(), 11) + dice(unit.get(), 13) / 3;
                            if state == "done" {
                                harvest as f64
                            } else {
                                (harvest / 2) as f64
                            }
                        });
                    jobs.push((
                        secretary.clone(),
                        assignment.to_string(),
                        Transition {
                            to: state.into(),
                            note: note.map(str::to_owned),
                            metric_value,
                            metrics: None,
                        },
                    ));
                }
            }
        }
        let reports = jobs.len();
        while !jobs.is_empty() {
            let rest = jobs.split_off(jobs.len().min(2_000));
            let batch = std::mem::replace(&mut jobs, rest);
            for result in self.directives().transition_many(ctx, batch).await? {
                result?;
            }
        }
        let programme = self.play_programme_demo(ctx).await?;
        let library = self
            .play_experience_demo(
                ctx,
                crate::features::experiences::DemoLinks {
                    decision: &decision.id,
                    goal: &goal.id,
                    programme: &programme.programme,
                },
            )
            .await?;
        let honours = self.play_honours_demo(ctx).await?;
        Ok(DemoScenarios {
            experiences: library.experiences,
            videos: library.videos,
            awards: honours.awards,
            withdrawn_awards: honours.withdrawn,
            decision: decision.id,
            goal: goal.id,
            plans,
            reports,
            programme: programme.programme,
            projects: programme.projects,
            pledge: programme.pledge,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_has_exactly_the_units_asked_for_and_six_levels() {
        for units in [1, 17, 300, 10_000] {
            let rows = demo_rows(DemoShape { units });
            assert_eq!(rows.len() as u64, units);
        }
        let rows = demo_rows(DemoShape::default());
        let kinds: std::collections::HashSet<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        for kind in [
            "centre",
            "province",
            "equivalent",
            "city_county",
            "primary",
            "ri",
            "sub_primary",
            "cell",
        ] {
            assert!(kinds.contains(kind), "{kind}");
        }
        assert_eq!(rows.iter().filter(|r| r.kind == "city_county").count(), 200);
        let codes: std::collections::HashSet<&str> = rows.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes.len(), rows.len(), "codes are unique");
    }
}
