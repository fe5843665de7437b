//! The officials' pages over real HTTP, as a browser asks for them: failures shown as
//! pages in the site's frame and language, links drawn only to what the viewer may open,
//! and every record a page mentions one link away.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{backends, TestServer};

use support::OFFICIAL_PASSWORD as PASSWORD;

/// The cookie of a browser signed in as `login`.
async fn browser(server: &TestServer, login: &str) -> String {
    let token = server.login(login, PASSWORD).await;
    format!("{}={token}", ganglion_web::SESSION_COOKIE)
}

/// A page as a browser asks for it: with its cookies and `Accept: text/html`.
async fn page(server: &TestServer, method: Method, path: &str, cookie: &str) -> support::Answer {
    server
        .send_as(
            None,
            method,
            path,
            None,
            &[("cookie", cookie), ("accept", "text/html,*/*;q=0.8")],
        )
        .await
}

fn is_html(answer: &support::Answer) -> bool {
    answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// The main navigation of the site's frame.
fn has_navigation(text: &str) -> bool {
    text.contains("<nav aria-label=\"Main\"") || text.contains("<nav aria-label=\"주 메뉴\"")
}

/// C ─ P1 ─ K1 with an official in K1 and a secretary in P1.
struct Tree {
    centre: String,
    province: String,
    county: String,
}

async fn tree(server: &TestServer) -> Tree {
    let centre = server.unit(None, "centre", "C").await;
    let province = server.unit(Some(&centre), "province", "P1").await;
    let county = server.unit(Some(&province), "city_county", "K1").await;
    server.appoint("Kim Song", &county, "official", "k1").await;
    server
        .appoint("Ri Hyon", &province, "secretary", "p1")
        .await;
    Tree {
        centre,
        province,
        county,
    }
}

#[tokio::test]
async fn every_failure_in_the_browser_is_a_page_in_the_frame_and_the_api_keeps_json() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let tree = tree(&server).await;
        let county = browser(&server, "k1").await;

        // An address nothing serves: a page with the navigation, the status and the code.
        let unknown = page(&server, Method::GET, "/no/such/place", &county).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(is_html(&unknown), "{:?}", unknown.headers);
        assert!(unknown.text.contains("data-code=\"route_not_found\""));
        assert!(has_navigation(&unknown.text), "{}", unknown.text);
        assert!(unknown.text.contains("There is no page at this address"));

        // In the language the browser chose.
        let korean = format!("{county}; ganglion_lang=ko");
        let unknown_ko = page(&server, Method::GET, "/no/such/place", &korean).await;
        assert_eq!(unknown_ko.status, StatusCode::NOT_FOUND);
        assert!(unknown_ko.text.contains("<html lang=\"ko\""));
        assert!(unknown_ko.text.contains("이 주소에는 페이지가 없습니다"));

        // A method the address does not answer.
        let wrong = page(&server, Method::PUT, "/work", &county).await;
        assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(is_html(&wrong));
        assert!(wrong.text.contains("data-code=\"method_not_allowed\""));
        assert!(has_navigation(&wrong.text));

        // A unit out of sight: the same 404 as one that does not exist, framed.
        let hidden = page(
            &server,
            Method::GET,
            &format!("/units/{}", tree.province),
            &county,
        )
        .await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert!(has_navigation(&hidden.text));
        assert!(
            hidden.text.contains("data-code=\"not_found\""),
            "{}",
            hidden.text
        );

        // Without a session: a page still, which offers to sign in.
        let anonymous = server
            .send_as(None, Method::GET, "/no/such/place", None, &[])
            .await;
        assert_eq!(anonymous.status, StatusCode::NOT_FOUND);
        assert!(is_html(&anonymous));
        assert!(anonymous.text.contains("href=\"/login\""));

        // The API keeps its JSON errors for programs...
        let api = server.get("/api/v1/nothing").await;
        assert_eq!(api.status, StatusCode::NOT_FOUND);
        assert_eq!(api.error_code(), "route_not_found");
        let api_method = server.send(Method::PUT, "/api/v1/units", None, &[]).await;
        assert_eq!(api_method.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(api_method.error_code(), "method_not_allowed");
        // ...and a browser opening an API address that does not exist reads a page.
        let api_in_browser = page(&server, Method::GET, "/api/v1/nothing", &county).await;
        assert_eq!(api_in_browser.status, StatusCode::NOT_FOUND);
        assert!(is_html(&api_in_browser));
        let _ = tree.centre;
        server.stop().await;
    }
}

/// Issues a directive of the centre to its whole tree; returns its id.
async fn issue(server: &TestServer, issuer: &str, title: &str, extra: Value) -> String {
    let mut body = json!({"issuer": issuer, "title": title, "body": "text", "due": "2099-01-01"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let draft = server.post("/api/v1/directives", &body).await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text);
    let id = draft.json()["id"].as_str().unwrap().to_owned();
    let issued = server
        .post(&format!("/api/v1/directives/{id}/issue"), &json!({}))
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    id
}

/// The id of the assignment of `directive` at `unit`.
async fn assignment_at(server: &TestServer, unit: &str, directive: &str) -> String {
    let inbox = server
        .get(&format!("/api/v1/units/{unit}/assignments"))
        .await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text);
    inbox.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["directive"] == directive)
        .unwrap_or_else(|| panic!("an assignment of {directive}: {}", inbox.text))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn guidance_from_a_unit_the_reader_may_not_open_is_not_a_link() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let tree = tree(&server).await;
        let directive = issue(
            &server,
            &tree.centre,
            "On the primary committees",
            json!({}),
        )
        .await;
        let guidance = server
            .post(
                &format!("/api/v1/directives/{directive}/guidance"),
                &json!({"unit": tree.province, "text": "Begin with the rural counties"}),
            )
            .await;
        assert_eq!(guidance.status, StatusCode::CREATED, "{}", guidance.text);
        let assignment = assignment_at(&server, &tree.county, &directive).await;

        let county = browser(&server, "k1").await;
        let shown = page(
            &server,
            Method::GET,
            &format!("/assignments/{assignment}"),
            &county,
        )
        .await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
        assert!(shown.text.contains("Begin with the rural counties"));
        assert!(
            !shown
                .text
                .contains(&format!("href=\"/units/{}\"", tree.province)),
            "the county may not open the province's page, so it is not linked"
        );
        // The province's own secretary reads the same note with the link.
        let province = browser(&server, "p1").await;
        let province_view = page(
            &server,
            Method::GET,
            &format!(
                "/assignments/{}",
                assignment_at(&server, &tree.province, &directive).await
            ),
            &province,
        )
        .await;
        assert!(province_view
            .text
            .contains(&format!("href=\"/units/{}\"", tree.province)));

        // Every link the county's pages draw opens for it.
        for path in [
            format!("/assignments/{assignment}"),
            format!("/units/{}", tree.county),
            "/work".to_owned(),
        ] {
            let shown = page(&server, Method::GET, &path, &county).await;
            assert_eq!(shown.status, StatusCode::OK, "{path}: {}", shown.text);
            for link in links(&shown.text) {
                let opened = page(&server, Method::GET, &link, &county).await;
                assert!(
                    opened.status.is_success(),
                    "{path} links {link}, which answers {}",
                    opened.status
                );
            }
        }
        server.stop().await;
    }
}

/// The local page links of a page (not assets, downloads or the API).
fn links(text: &str) -> Vec<String> {
    let mut found: Vec<String> = text
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| href.starts_with('/') && !href.starts_with("/assets/"))
        .filter(|href| !href.starts_with("/api/"))
        .map(|href| href.replace("&amp;", "&"))
        .collect();
    found.sort();
    found.dedup();
    found
}

#[tokio::test]
async fn every_directive_a_unit_issued_or_received_is_one_link_away() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let tree = tree(&server).await;
        let primary = server.unit(Some(&tree.county), "primary", "K1-F01").await;
        let goal = issue(&server, &tree.centre, "Grain production goal", json!({})).await;
        // The county maps out its plan under the centre's goal and issues it.
        let county_api = server.as_caller(Some(server.login("k1", PASSWORD).await));
        let plan = county_api
            .post(
                "/api/v1/directives",
                &json!({"issuer": tree.county, "title": "The county's grain plan", "body": "",
                        "due": "2099-01-01", "parent_directive": goal}),
            )
            .await;
        assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text);
        let plan = plan.json()["id"].as_str().unwrap().to_owned();
        let issued = county_api
            .post(&format!("/api/v1/directives/{plan}/issue"), &json!({}))
            .await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        let plan_link = format!("href=\"/directives/{plan}\"");
        let goal_link = format!("href=\"/directives/{goal}\"");

        let county = browser(&server, "k1").await;
        // "Directives" in the browser is a page, not JSON: what the county issued and received.
        let list = page(&server, Method::GET, "/directives", &county).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert!(is_html(&list));
        assert!(list.text.contains(&plan_link), "{}", list.text);
        assert!(list.text.contains(&goal_link));

        // The county's page lists the plan it issued and the goal it received...
        let unit_page = page(
            &server,
            Method::GET,
            &format!("/units/{}", tree.county),
            &county,
        )
        .await;
        assert_eq!(unit_page.status, StatusCode::OK);
        assert!(
            unit_page.text.contains("The county&#39;s grain plan")
                || unit_page.text.contains("The county's grain plan")
        );
        assert!(unit_page.text.contains(&plan_link));
        assert!(unit_page.text.contains(&goal_link));
        // ...and its history links the records it names.
        let history = unit_page
            .text
            .split("id=\"history-heading\"")
            .nth(1)
            .unwrap();
        assert!(history.contains(&plan_link), "{history}");

        // The centre's goal lists the county's plan with its progress.
        let admin = format!(
            "{}={}",
            ganglion_web::SESSION_COOKIE,
            server.token.clone().unwrap()
        );
        let goal_page = page(&server, Method::GET, &format!("/directives/{goal}"), &admin).await;
        assert_eq!(goal_page.status, StatusCode::OK);
        let plans = goal_page.text.split("id=\"plans-heading\"").nth(1).unwrap();
        assert!(plans.contains(&plan_link), "{plans}");
        // The plan leads back to the goal it carries out.
        let plan_page = page(
            &server,
            Method::GET,
            &format!("/directives/{plan}"),
            &county,
        )
        .await;
        assert!(plan_page.text.contains(&goal_link));

        // The county's assignment of the goal links the plan the county made.
        let assignment = assignment_at(&server, &tree.county, &goal).await;
        let assignment_page = page(
            &server,
            Method::GET,
            &format!("/assignments/{assignment}"),
            &county,
        )
        .await;
        let own = assignment_page
            .text
            .split("id=\"plan-heading\"")
            .nth(1)
            .unwrap();
        assert!(own.contains(&plan_link), "{own}");
        // A primary committee's assignment of the plan leads to the plan, and every link
        // the county's pages draw opens for it.
        let _ = primary;
        for path in [
            "/directives".to_owned(),
            format!("/units/{}", tree.county),
            format!("/assignments/{assignment}"),
        ] {
            let shown = page(&server, Method::GET, &path, &county).await;
            for link in links(&shown.text) {
                let opened = page(&server, Method::GET, &link, &county).await;
                assert!(
                    opened.status.is_success(),
                    "{path} links {link}: {}",
                    opened.status
                );
            }
        }
        server.stop().await;
    }
}

/// The form token a page gives this browser.
fn form_token(text: &str) -> String {
    let at = text.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    text[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn numbers_read_with_units_moves_are_named_and_every_write_is_confirmed() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let tree = tree(&server).await;
        let goal = issue(
            &server,
            &tree.centre,
            "Grain production goal",
            json!({"target": {"kinds": ["city_county"]},
                   "metric": {"name": "Grain", "unit": "t", "target_per_unit": 41280}}),
        )
        .await;
        let admin = format!(
            "{}={}",
            ganglion_web::SESSION_COOKIE,
            server.token.clone().unwrap()
        );
        let rollup = page(&server, Method::GET, &format!("/directives/{goal}"), &admin).await;
        assert_eq!(rollup.status, StatusCode::OK);
        // Thousands grouped, with the metric's unit; one column per label.
        assert!(
            rollup.text.contains("0 / 41,280\u{a0}t (0%)"),
            "{}",
            rollup.text
        );
        let head = rollup
            .text
            .split("<thead>")
            .nth(1)
            .unwrap()
            .split("</thead>")
            .next()
            .unwrap();
        assert_eq!(head.matches(">Done<").count(), 1, "{head}");
        assert!(head.contains("Share done"));

        // The county's moves are buttons named for what they do; recording one confirms it.
        let county = browser(&server, "k1").await;
        let assignment = assignment_at(&server, &tree.county, &goal).await;
        let path = format!("/assignments/{assignment}");
        let shown = page(&server, Method::GET, &path, &county).await;
        assert!(shown.text.contains(">Acknowledge<"), "{}", shown.text);
        let form = format!(
            "csrf={}&to=acknowledged&note=&metric_value=1234.5",
            form_token(&shown.text)
        );
        // A browser stops at the redirect to carry the confirmation's cookie on.
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let sent = no_redirects
            .post(format!("{}{path}/transition", server.base))
            .header("cookie", &county)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        let sent = support::Answer {
            status: sent.status(),
            headers: sent.headers().clone(),
            text: sent.text().await.unwrap(),
        };
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);
        let flash = sent
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("ganglion_flash="))
            .expect("a confirmation travels with the redirect")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let after = page(&server, Method::GET, &path, &format!("{county}; {flash}")).await;
        assert!(after.text.contains("role=\"status\""), "{}", after.text);
        assert!(after.text.contains("Recorded: Acknowledged"));
        assert!(
            after.text.contains("1,234.5\u{a0}t"),
            "the value reads with its unit"
        );
        let cleared = after
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.starts_with("ganglion_flash=;"));
        assert!(cleared, "the confirmation is shown once");

        // Finished work is sent back by the unit above with a button named so.
        let county_api = server.as_caller(Some(server.login("k1", PASSWORD).await));
        for to in ["planned", "in_progress", "done"] {
            let moved = county_api
                .post(
                    &format!("/api/v1/assignments/{assignment}/transition"),
                    &json!({"to": to}),
                )
                .await;
            assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
        }
        let province = browser(&server, "p1").await;
        let above = page(&server, Method::GET, &path, &province).await;
        assert!(above.text.contains(">Send back"), "{}", above.text);
        assert!(!above.text.contains(">In progress</button>"));
        server.stop().await;
    }
}

/// The units of a table's rows, in order.
fn row_units(text: &str, table_class: &str) -> Vec<String> {
    let Some(table) = text.split(&format!("<table class=\"{table_class}")).nth(1) else {
        return Vec::new();
    };
    let table = table.split("</table>").next().unwrap();
    table
        .split("<tr data-unit=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_units_that_lag_are_grouped_at_the_level_chosen_most_behind_first() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let tree = tree(&server).await;
        let k2 = server.unit(Some(&tree.province), "city_county", "K2").await;
        let p2 = server.unit(Some(&tree.centre), "province", "P2").await;
        let k3 = server.unit(Some(&p2), "city_county", "K3").await;
        server.appoint("Pak Chol", &k2, "official", "k2").await;
        let goal = issue(
            &server,
            &tree.centre,
            "Grain production goal",
            json!({"target": {"kinds": ["city_county"]},
                   "metric": {"name": "Grain", "unit": "t", "target_per_unit": 1000}}),
        )
        .await;
        // K1 finishes; K2 reports a little; K3 has not begun.
        let k1 = server.as_caller(Some(server.login("k1", PASSWORD).await));
        let a1 = assignment_at(&server, &tree.county, &goal).await;
        for to in ["acknowledged", "planned", "in_progress", "done"] {
            let moved = k1
                .post(
                    &format!("/api/v1/assignments/{a1}/transition"),
                    &json!({"to": to, "metric_value": 1000}),
                )
                .await;
            assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
        }
        let k2_api = server.as_caller(Some(server.login("k2", PASSWORD).await));
        let a2 = assignment_at(&server, &k2, &goal).await;
        let moved = k2_api
            .post(
                &format!("/api/v1/assignments/{a2}/transition"),
                &json!({"to": "acknowledged", "metric_value": 100}),
            )
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);

        let admin = format!(
            "{}={}",
            ganglion_web::SESSION_COOKIE,
            server.token.clone().unwrap()
        );
        // By province: P2 has done nothing, P1 half.
        let provinces = page(
            &server,
            Method::GET,
            &format!("/directives/{goal}?level=1"),
            &admin,
        )
        .await;
        assert_eq!(provinces.status, StatusCode::OK);
        assert_eq!(
            row_units(&provinces.text, "lagging-groups"),
            vec![p2.clone(), tree.province.clone()]
        );
        assert!(
            provinces.text.contains("<option value=\"1\" selected>"),
            "the level chosen is shown"
        );
        // By county: K1 is done and left out; K3 and K2 have nothing done, and K3 falls
        // further short of its target.
        let counties = page(
            &server,
            Method::GET,
            &format!("/directives/{goal}?level=2"),
            &admin,
        )
        .await;
        assert_eq!(
            row_units(&counties.text, "lagging-groups"),
            vec![k3.clone(), k2.clone()]
        );
        assert!(
            counties.text.contains("1,000\u{a0}t"),
            "K3's shortfall with its unit"
        );
        assert!(counties.text.contains("900\u{a0}t"), "K2's shortfall");
        // The roll-up table sorts in the browser and colours each share done.
        assert!(counties.text.contains("class=\"rollup sortable\""));
        assert!(counties.text.contains("progress-"));
        // A level that is not there falls back to the first.
        let odd = page(
            &server,
            Method::GET,
            &format!("/directives/{goal}?level=7"),
            &admin,
        )
        .await;
        assert_eq!(odd.status, StatusCode::OK);
        assert_eq!(
            row_units(&odd.text, "lagging-groups"),
            vec![p2.clone(), tree.province.clone()]
        );
        server.stop().await;
    }
}
