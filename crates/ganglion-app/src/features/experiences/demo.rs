//! Scenario 4's videos of good experience, kept in the library, and a few hundred
//! experiences in Korean and English drawn from the sample organization's work: the
//! ri committees' farming in Korean, the factories' and mines' production in English,
//! the counties' ways of conveying the centre's decision in both. Written through the
//! ordinary use case, each by its unit; some linked to the centre's decision, the grain
//! goal or the regional development programme, some kept to their subtree.

use ganglion_store::UnitFilter;

use super::{Media, NewExperience};
use crate::{App, AppError, Ctx};

/// What the library demo left.
#[derive(Debug, Clone)]
pub struct ExperienceDemo {
    pub experiences: usize,
    pub videos: usize,
}

/// The links the demo's experiences may name.
pub(crate) struct DemoLinks<'a> {
    pub decision: &'a str,
    pub goal: &'a str,
    pub programme: &'a str,
}

/// A number from 0 to 99, the same for the same inputs.
fn dice(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    x % 100
}

fn pick<'a>(list: &[&'a str], seed: u64, salt: u64) -> &'a str {
    list[(dice(seed, salt) as usize) % list.len()]
}

const CROPS: &[&str] = &["쌀", "옥수수", "콩", "감자", "밀", "보리"];
const FERTILIZERS: &[&str] = &["질소비료", "유기질비료", "인비료", "소석회", "흙보산비료"];
const FARM_TITLES: &[&str] = &[
    "{unit}에서 {crop} 수확고를 높인 경험",
    "{fert}를 제때에 실어 나른 {unit}의 경험",
    "분조관리제를 바로 실시하여 {crop} 생산을 늘린 경험",
    "{unit} 농장원들이 {crop} 모내기를 앞당긴 경험",
    "두벌농사로 {crop} 정보당 수확고를 올린 {unit}",
];
const FARM_OPENINGS: &[&str] = &[
    "{unit}에서는 올해 {crop} 생산계획을 {n}% 넘쳐 수행하였다.",
    "{unit} 당일군들은 포전마다 찾아가 농장원들과 함께 {crop} 농사의 방도를 토론하였다.",
    "지난해까지 {unit}의 {crop} 수확고는 군에서 뒤떨어져 있었다.",
    "{unit}은 {fert}를 포전별로 계산하여 알맞게 주는 체계를 세웠다.",
];
const FARM_MIDDLES: &[&str] = &[
    "모판 관리를 과학기술적으로 하여 모의 뿌리내림을 빨리 하였으며 {fert}를 두 번에 나누어 주었다.",
    "분조마다 땅을 맡아 책임지고 관리하게 하니 농장원들의 열의가 높아졌다.",
    "{fert}를 제때에 확보하기 위하여 리 위원회가 직접 운반조직을 짜고 밤낮으로 실어 날랐다.",
    "물길을 새로 내고 저수지를 보수하여 가물에도 {crop} 포전에 물이 모자라지 않게 하였다.",
    "선진영농방법을 배우는 강습을 열고 잘하는 분조의 경험을 모든 분조에 일반화하였다.",
];
const FARM_ENDINGS: &[&str] = &[
    "그 결과 정보당 {crop} 수확고가 {t}t으로 늘어났다.",
    "이렇게 하여 {unit}은 군적으로 앞장서는 단위로 되었다.",
    "이 경험은 군안의 모든 리에 소개되었다.",
    "농장원들은 다음해에 더 높은 목표를 세우고 달라붙었다.",
];

const PRODUCTS: &[&str] = &[
    "limestone",
    "coal",
    "cement",
    "fabric",
    "machine tools",
    "fertilizer",
    "electricity",
    "fish",
];
const WORKS_TITLES: &[&str] = &[
    "How {unit} raised its output of {product}",
    "{unit}: cutting the coal consumed for each tonne of {product}",
    "Modernizing the production lines at {unit}",
    "How the fertilizer shop of {unit} won the title of Twice Three-Revolution Red Flag",
    "Raising the quality of {product} at {unit}",
    "The study sessions that changed the work of {unit}",
];
const WORKS_OPENINGS: &[&str] = &[
    "Two years ago {unit} fulfilled barely {low}% of its plan for {product}.",
    "The officials of {unit} went down to the shop floor and worked beside the workers for a month.",
    "At {unit} the primary committee first asked every cell what held production back.",
    "{unit} raised its output of {product} by {n}% in a single year.",
];
const WORKS_MIDDLES: &[&str] = &[
    "Each cell took charge of one machine line and reported its output every evening.",
    "The engineers redesigned the kilns, which now burn a third less coal.",
    "Workers who had found better methods taught them to every shift, and the methods were written down.",
    "Spare parts that used to wait for months are now made in the works' own repair shop.",
    "The committee held a study session on the centre's decision and turned it into tasks for every cell.",
];
const WORKS_ENDINGS: &[&str] = &[
    "Output has kept rising since, and the plan was overfulfilled by {n}%.",
    "Other works of the county have since adopted the same methods.",
    "The lesson: production rises when the officials stand where the work is done.",
    "The works now delivers its {product} on time to every customer.",
];

const COUNTY_TEXTS: &[(&str, &str)] = &[
    (
        "{unit}: conveying the decision to every cell within a week",
        "The county committee gathered the secretaries of its primary committees the day the \
         decision arrived, explained it point by point, and sent officials to every cell to see \
         that it was understood. Within a week every cell had held its study session and \
         reported what it would change.",
    ),
    (
        "{unit}의 지도소조가 뒤떨어진 리를 도와준 경험",
        "군당위원회는 지도소조를 뒤떨어진 리들에 보내여 리당일군들과 함께 생활하면서 \
         일을 도와주게 하였다. 소조원들은 문제를 현지에서 풀어주고 그 경과를 매주 \
         보고하였다. 석달만에 이 리들은 계획을 넘쳐 수행하였다.",
    ),
    (
        "Holding officials to account with a weekly review at {unit}",
        "Every Monday the county committee reviews what each primary committee reported the \
         week before, names what lags and why, and decides who helps. Nothing reported is \
         left without an answer.",
    ),
];

/// Scenario 4's videos of good experience, shown at the second short course.
const COURSE_VIDEOS: &[(&str, &str, &str)] = &[
    (
        "Video: the ri committee that doubled its rice harvest",
        "Shown at the second short course: how a ri committee organized its work teams, \
         delivered nitrogen fertilizer on time and raised its rice harvest.",
        "ri-committee-rice-harvest",
    ),
    (
        "영상: 리당위원회 사업을 개선한 경험",
        "제2차 단기강습에서 보여준 영상. 리당위원회가 농장원들 속에 들어가 당정책을 \
         해설하고 분조관리제를 바로 실시한 경험을 보여준다.",
        "ri-committee-work",
    ),
    (
        "Video: regional industry factories of the 20×10 programme",
        "Shown at the second short course: the first factories of the regional development \
         programme, and how their counties raised the materials locally.",
        "regional-factories",
    ),
    (
        "영상: 석회석광산의 생산을 높인 경험",
        "제2차 단기강습에서 보여준 영상. 광산 일군들이 채굴설비를 현대화하고 석회석 \
         생산을 늘린 과정을 보여준다.",
        "limestone-mine",
    ),
    (
        "Video: a fertilizer shop's way to the Twice Three-Revolution Red Flag",
        "Shown at the second short course: the fertilizer shop that won the title of Twice \
         Three-Revolution Red Flag, in the words of its workers.",
        "fertilizer-shop",
    ),
    (
        "영상: 군당위원회의 지도방법",
        "제2차 단기강습에서 보여준 영상. 군당위원회가 하부당조직들의 사업을 료해하고 \
         도와주는 방법을 소개한다.",
        "county-guidance",
    ),
];

fn fill(template: &str, unit: &str, seed: u64) -> String {
    template
        .replace("{unit}", unit)
        .replace("{crop}", pick(CROPS, seed, 1))
        .replace("{fert}", pick(FERTILIZERS, seed, 2))
        .replace("{product}", pick(PRODUCTS, seed, 3))
        .replace("{n}", &(5 + dice(seed, 4) % 40).to_string())
        .replace("{low}", &(55 + dice(seed, 5) % 30).to_string())
        .replace("{t}", &(6 + dice(seed, 6) % 5).to_string())
}

fn compose(unit: &str, seed: u64, parts: [&[&str]; 3]) -> String {
    let mut sentences = vec![fill(pick(parts[0], seed, 10), unit, seed)];
    for extra in 0..(1 + dice(seed, 11) % 3) {
        sentences.push(fill(pick(parts[1], seed, 12 + extra), unit, seed));
    }
    sentences.push(fill(pick(parts[2], seed, 20), unit, seed));
    sentences.join(" ")
}

impl App {
    /// Writes the library of the demo: scenario 4's videos and some three hundred
    /// experiences of the sample organization's units.
    pub(crate) async fn play_experience_demo(
        &self,
        ctx: &Ctx,
        links: DemoLinks<'_>,
    ) -> Result<ExperienceDemo, AppError> {
        let units_of = |kind: &str| UnitFilter {
            kind: Some(kind.into()),
            ..UnitFilter::default()
        };
        let ri = self.store.units(&units_of("ri"), 150).await?;
        let primaries = self.store.units(&units_of("primary"), 120).await?;
        let counties = self.store.units(&units_of("city_county"), 30).await?;
        let centre = self.unit_by_code(ctx, "C").await?;
        let mut written = 0;
        let write = |input: NewExperience| async move {
            self.experiences().create(ctx, input).await.map(|_| ())
        };
        for (index, unit) in ri.iter().enumerate() {
            let seed = unit.id.get() as u64;
            let name = unit.name.trim_end_matches(" 위원회");
            write(NewExperience {
                unit: unit.id.to_string(),
                title: fill(pick(FARM_TITLES, seed, 0), name, seed),
                body: compose(name, seed, [FARM_OPENINGS, FARM_MIDDLES, FARM_ENDINGS]),
                tags: Some(vec![
                    "농업".into(),
                    "agriculture".into(),
                    pick(CROPS, seed, 1).into(),
                ]),
                directive: (index % 3 == 0).then(|| links.goal.to_owned()),
                programme: None,
                event: None,
                media: None,
                audience: (index % 9 == 4).then(|| "subtree".into()),
            })
            .await?;
            written += 1;
        }
        for (index, unit) in primaries.iter().enumerate() {
            let seed = unit.id.get() as u64;
            let name = unit.name.trim_end_matches(" Primary Committee");
            write(NewExperience {
                unit: unit.id.to_string(),
                title: fill(pick(WORKS_TITLES, seed, 0), name, seed),
                body: compose(name, seed, [WORKS_OPENINGS, WORKS_MIDDLES, WORKS_ENDINGS]),
                tags: Some(vec![
                    "industry".into(),
                    pick(PRODUCTS, seed, 3).replace(' ', "-"),
                ]),
                directive: (index % 4 == 0).then(|| links.decision.to_owned()),
                programme: None,
                event: None,
                media: None,
                audience: (index % 10 == 7).then(|| "subtree".into()),
            })
            .await?;
            written += 1;
        }
        for (index, unit) in counties.iter().enumerate() {
            let (title, body) = COUNTY_TEXTS[index % COUNTY_TEXTS.len()];
            let name = unit.name.trim_end_matches(" Committee");
            write(NewExperience {
                unit: unit.id.to_string(),
                title: title.replace("{unit}", name),
                body: body.into(),
                tags: Some(vec!["guidance".into(), "지도".into()]),
                directive: Some(links.decision.to_owned()),
                programme: None,
                event: None,
                media: None,
                audience: None,
            })
            .await?;
            written += 1;
            if index % 3 == 0 {
                write(NewExperience {
                    unit: unit.id.to_string(),
                    title: format!("Building the regional industry factory of {name}"),
                    body: format!(
                        "{name} raised the building materials for its factory of the 20×10 \
                         programme locally: its own brickworks, timber from its forests, and \
                         work teams from every primary committee. Ground was broken in March \
                         and the factory was in operation before the winter."
                    ),
                    tags: Some(vec!["20x10".into(), "construction".into()]),
                    directive: None,
                    programme: Some(links.programme.to_owned()),
                    event: None,
                    media: None,
                    audience: None,
                })
                .await?;
                written += 1;
            }
        }
        for (index, (title, body, file)) in COURSE_VIDEOS.iter().enumerate() {
            write(NewExperience {
                unit: centre.id.clone(),
                title: (*title).into(),
                body: (*body).into(),
                tags: Some(vec![
                    "second-short-course".into(),
                    "video".into(),
                    "영상".into(),
                ]),
                directive: None,
                programme: (index == 2).then(|| links.programme.to_owned()),
                event: None,
                media: Some(vec![Media {
                    title: (*title).into(),
                    url: format!(
                        "https://media.example.org/second-short-course/{:02}-{file}.mp4",
                        index + 1
                    ),
                }]),
                audience: None,
            })
            .await?;
        }
        written += COURSE_VIDEOS.len();
        Ok(ExperienceDemo {
            experiences: written,
            videos: COURSE_VIDEOS.len(),
        })
    }
}

const HANGUL_PLACE: &[&str] = &[
    "청", "송", "은", "평", "금", "룡", "삼", "문", "대", "화", "덕", "봉", "안", "신", "장", "백",
];
const LATIN_PLACE: &[&str] = &[
    "Ok", "Chang", "Un", "Pyong", "Song", "Tae", "Hwa", "Kum", "Ryong", "Sam", "Mun", "Kap", "Tok",
    "Sin", "Pong", "Paek",
];
const LATIN_END: &[&str] = &["san", "chon", "dok", "won", "ju", "ri", "gol", "dong"];
const WORKS: &[&str] = &[
    "Machine Works",
    "Textile Mill",
    "Limestone Mine",
    "Fertilizer Complex",
    "Power Station",
    "Fishery Station",
    "Cement Factory",
    "Coal Mine",
];

/// A believable experience, the same for the same seed: from an even seed, a ri
/// committee's farming in Korean; from an odd one, a works' production in English. For
/// benchmarks and fixtures that need many.
pub fn sample_experience(seed: u64) -> (String, String) {
    if seed.is_multiple_of(2) {
        let name = format!(
            "{}{}리",
            pick(HANGUL_PLACE, seed, 30),
            pick(HANGUL_PLACE, seed, 31)
        );
        (
            fill(pick(FARM_TITLES, seed, 0), &name, seed),
            compose(&name, seed, [FARM_OPENINGS, FARM_MIDDLES, FARM_ENDINGS]),
        )
    } else {
        let name = format!(
            "{}{} {}",
            pick(LATIN_PLACE, seed, 30),
            pick(LATIN_END, seed, 31),
            pick(WORKS, seed, 32)
        );
        (
            fill(pick(WORKS_TITLES, seed, 0), &name, seed),
            compose(&name, seed, [WORKS_OPENINGS, WORKS_MIDDLES, WORKS_ENDINGS]),
        )
    }
}
